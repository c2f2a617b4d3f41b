package rebound_test

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	reboundv1 "github.com/rebound-dev/rebound/clients/go/gen/rebound/v1"
	"github.com/rebound-dev/rebound/clients/go/rebound"
)

// Explain says each thing once: the sentence, then nothing repeated after it, and the
// original status stays reachable through the result.
func TestExplainSaysItOnceAndKeepsTheStatus(t *testing.T) {
	const addr = "127.0.0.1:50051"
	cases := []struct {
		method string
		err    error
		want   string
	}{
		{reboundv1.ConfigService_GetConfig_FullMethodName, status.Error(codes.Unimplemented, "unknown service rebound.v1.ConfigService"),
			"the server at 127.0.0.1:50051 does not offer rebound.v1.ConfigService yet (/rebound.v1.ConfigService/GetConfig: UNIMPLEMENTED: unknown service rebound.v1.ConfigService)"},
		{reboundv1.HealthService_GetHealth_FullMethodName, status.Error(codes.Unavailable, "connection refused"),
			"/rebound.v1.HealthService/GetHealth: the server at 127.0.0.1:50051 is unavailable (UNAVAILABLE: connection refused); it may be down, restarting or draining"},
		{reboundv1.ClientCommandService_GetCommand_FullMethodName, status.Error(codes.NotFound, "command_id: no such command"),
			"/rebound.v1.ClientCommandService/GetCommand failed: NOT_FOUND: command_id: no such command"},
	}
	for _, c := range cases {
		explained := rebound.Explain(addr, c.method, c.err)
		if got := explained.Error(); got != c.want {
			t.Errorf("Explain(%v)\n got: %s\nwant: %s", c.err, got, c.want)
		}
		if !errors.Is(explained, c.err) || status.Code(explained) != status.Code(c.err) {
			t.Errorf("%v: the original error is not reachable through %v", c.err, explained)
		}
		var call *rebound.CallError
		if !errors.As(explained, &call) || call.Addr != addr || call.Method != c.method {
			t.Errorf("%v: not a CallError with the address and method: %#v", c.err, explained)
		}
	}
	if rebound.Explain(addr, reboundv1.HealthService_GetHealth_FullMethodName, nil) != nil {
		t.Error("Explain(nil) is not nil")
	}
	if !rebound.ServiceNotOffered(rebound.Explain(addr, cases[0].method, cases[0].err)) {
		t.Error("ServiceNotOffered does not see UNIMPLEMENTED through Explain")
	}
}
