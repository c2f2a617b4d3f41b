package rebound

import (
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ServiceNotOffered reports whether err is UNIMPLEMENTED: the server does not serve the
// service (or method) that was called — typically an older server.
func ServiceNotOffered(err error) bool {
	return status.Code(err) == codes.Unimplemented
}

// Explain turns a failed call's error into a sentence a person can act on, keeping the
// gRPC code and the server's message. method is the full method name, e.g.
// reboundv1.RestartService_Restart_FullMethodName.
func Explain(addr, method string, err error) error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unimplemented:
		service := strings.Split(strings.TrimPrefix(method, "/"), "/")[0]
		return fmt.Errorf("the server at %s does not offer %s yet (%s: UNIMPLEMENTED: %s): %w",
			addr, service, method, st.Message(), err)
	case codes.Unavailable:
		return fmt.Errorf("%s: the server at %s is unavailable (UNAVAILABLE: %s); it may be down, restarting or draining: %w",
			method, addr, st.Message(), err)
	default:
		return fmt.Errorf("%s failed: %s: %s: %w", method, codeName(st.Code()), st.Message(), err)
	}
}

func codeName(c codes.Code) string {
	// codes.Code.String() gives "NotFound"; the gRPC spec (and grpcurl) say NOT_FOUND.
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}
