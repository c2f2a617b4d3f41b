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

// Explain turns the error of a failed call into one sentence a person can act on.
//
// addr is the address the client dialled (as given to [Dial]); method is the full gRPC
// method name of the call, e.g. reboundv1.RestartService_Restart_FullMethodName
// ("/rebound.v1.RestartService/Restart"); err is what the call returned. A nil err gives
// nil. The sentence keeps the gRPC code (as the spec and grpcurl spell it: NOT_FOUND) and
// the server's message, and says what the code means for rebound:
//
//   - UNIMPLEMENTED: "the server at ADDR does not offer SERVICE yet (METHOD: UNIMPLEMENTED:
//     message)" — an older server without that service;
//   - UNAVAILABLE (after the retry policy gave up): "METHOD: the server at ADDR is
//     unavailable (UNAVAILABLE: message); it may be down, restarting or draining";
//   - any other code: "METHOD failed: CODE: message".
//
// The result is a [*CallError]: it prints the sentence once (the status message is not
// repeated after it), and it wraps err, so [errors.Is], [errors.As], [status.Code] and
// [ServiceNotOffered] see the original status through it.
func Explain(addr, method string, err error) error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	var text string
	switch st.Code() {
	case codes.Unimplemented:
		service := strings.Split(strings.TrimPrefix(method, "/"), "/")[0]
		text = fmt.Sprintf("the server at %s does not offer %s yet (%s: UNIMPLEMENTED: %s)",
			addr, service, method, st.Message())
	case codes.Unavailable:
		text = fmt.Sprintf("%s: the server at %s is unavailable (UNAVAILABLE: %s); it may be down, restarting or draining",
			method, addr, st.Message())
	default:
		text = fmt.Sprintf("%s failed: %s: %s", method, codeName(st.Code()), st.Message())
	}
	return &CallError{Addr: addr, Method: method, Err: err, text: text}
}

// CallError is a failed call explained by [Explain]. Error returns the sentence; Unwrap
// returns the call's own error (a gRPC status error).
type CallError struct {
	// Addr is the server address the call was made to.
	Addr string
	// Method is the full gRPC method name of the call.
	Method string
	// Err is the error the call returned.
	Err  error
	text string
}

func (e *CallError) Error() string { return e.text }

func (e *CallError) Unwrap() error { return e.Err }

// GRPCStatus is the status of the call, so status.FromError and status.Code work on a
// CallError directly.
func (e *CallError) GRPCStatus() *status.Status { return status.Convert(e.Err) }

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
