package rebound_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	reboundv1 "github.com/rebound-dev/rebound/clients/go/gen/rebound/v1"
	"github.com/rebound-dev/rebound/clients/go/internal/testserver"
	"github.com/rebound-dev/rebound/clients/go/rebound"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), testserver.Deadline)
	t.Cleanup(cancel)
	return c
}

func dial(t *testing.T, addr string, opts ...rebound.Option) *rebound.Client {
	t.Helper()
	client, err := rebound.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func TestHealthAgainstARealServer(t *testing.T) {
	server := testserver.Start(t)
	for _, addr := range []string{server.Addr(), "http://" + server.Addr(), server.UnixAddr()} {
		t.Run(addr, func(t *testing.T) {
			report, err := dial(t, addr, rebound.WithToken("any")).Health.GetHealth(ctx(t), &reboundv1.GetHealthRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if report.GetStatus() != reboundv1.ServingStatus_SERVING_STATUS_SERVING {
				t.Errorf("status = %v", report.GetStatus())
			}
			if int(report.GetPid()) != server.Pid() {
				t.Errorf("pid = %d, want %d", report.GetPid(), server.Pid())
			}
			if report.GetVersion() == "" || len(report.GetComponents()) == 0 {
				t.Errorf("incomplete report: %v", report)
			}
		})
	}
}

// served asks grpc.health.v1 whether the server serves service (NOT_FOUND: it does not).
func served(t *testing.T, client *rebound.Client, service string) bool {
	_, err := healthpb.NewHealthClient(client.Conn()).Check(ctx(t), &healthpb.HealthCheckRequest{Service: service})
	if status.Code(err) == codes.NotFound {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func TestEveryServiceIsServed(t *testing.T) {
	server := testserver.Start(t)
	client := dial(t, server.Addr())
	for _, service := range rebound.Services {
		if !served(t, client, service) {
			t.Errorf("%s is not served", service)
		}
	}
}

// Against a server that serves only some services (like an older rebound), calls to the
// others are UNIMPLEMENTED and Explain says which service is missing.
func TestServicesAServerDoesNotOfferFailClearly(t *testing.T) {
	r := startRecorder(t, 0) // serves HealthService and RestartService only
	client := dial(t, r.addr)
	calls := map[string]struct {
		method string
		call   func() error
	}{
		"rebound.v1.ConfigService": {reboundv1.ConfigService_GetConfig_FullMethodName, func() error {
			_, err := client.Config.GetConfig(ctx(t), &reboundv1.GetConfigRequest{})
			return err
		}},
		"rebound.v1.ClientCommandService": {reboundv1.ClientCommandService_ListClients_FullMethodName, func() error {
			_, err := client.Commands.ListClients(ctx(t), &reboundv1.ListClientsRequest{})
			return err
		}},
		"rebound.v1.RecoveryService": {reboundv1.RecoveryService_GetRecoveryReport_FullMethodName, func() error {
			_, err := client.Recovery.GetRecoveryReport(ctx(t), &reboundv1.GetRecoveryReportRequest{})
			return err
		}},
	}
	for service, c := range calls {
		err := c.call()
		if !rebound.ServiceNotOffered(err) {
			t.Fatalf("%s: want UNIMPLEMENTED, got %v", service, err)
		}
		msg := rebound.Explain(r.addr, c.method, err).Error()
		if !strings.Contains(msg, "does not offer "+service+" yet") || !strings.Contains(msg, r.addr) {
			t.Errorf("unclear error: %s", msg)
		}
	}
}

// recorder is a real in-process gRPC server for HealthService and RestartService that
// records the metadata of each call and fails the first `failures` calls with UNAVAILABLE.
type recorder struct {
	reboundv1.UnimplementedHealthServiceServer
	reboundv1.UnimplementedRestartServiceServer
	mu       sync.Mutex
	calls    []map[string][]string
	failures int
	addr     string
}

func (r *recorder) attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func startRecorder(t *testing.T, failures int) *recorder {
	r := &recorder{failures: failures}
	server := grpc.NewServer(grpc.UnaryInterceptor(func(c context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadataFrom(c)
		r.mu.Lock()
		r.calls = append(r.calls, md)
		fail := r.failures > 0
		if fail {
			r.failures--
		}
		r.mu.Unlock()
		if fail {
			return nil, status.Error(codes.Unavailable, "recorder: injected failure")
		}
		return handler(c, req)
	}))
	reboundv1.RegisterHealthServiceServer(server, r)
	reboundv1.RegisterRestartServiceServer(server, r)
	listener := listen(t)
	r.addr = listener.Addr().String()
	go server.Serve(listener)
	t.Cleanup(server.Stop)
	return r
}

func (r *recorder) GetHealth(context.Context, *reboundv1.GetHealthRequest) (*reboundv1.GetHealthResponse, error) {
	return &reboundv1.GetHealthResponse{Status: reboundv1.ServingStatus_SERVING_STATUS_SERVING}, nil
}

func (r *recorder) Restart(context.Context, *reboundv1.RestartRequest) (*reboundv1.RestartResponse, error) {
	return &reboundv1.RestartResponse{}, nil
}

func TestTokenIsSentAsBearerMetadata(t *testing.T) {
	r := startRecorder(t, 0)
	if _, err := dial(t, r.addr, rebound.WithToken("s3cret")).Health.GetHealth(ctx(t), &reboundv1.GetHealthRequest{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv(rebound.TokenEnv, "from-env")
	if _, err := dial(t, r.addr).Health.GetHealth(ctx(t), &reboundv1.GetHealthRequest{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv(rebound.TokenEnv, "")
	if _, err := dial(t, r.addr).Health.GetHealth(ctx(t), &reboundv1.GetHealthRequest{}); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, md := range r.calls {
		got = append(got, strings.Join(md["authorization"], ","))
	}
	want := []string{"Bearer s3cret", "Bearer from-env", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("authorization = %q, want %q", got, want)
	}
}

var fastRetry = rebound.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Multiplier: 2}

func TestUnavailableIsRetriedThroughTheServiceConfig(t *testing.T) {
	r := startRecorder(t, 2)
	if _, err := dial(t, r.addr, rebound.WithRetryPolicy(fastRetry)).Health.GetHealth(ctx(t), &reboundv1.GetHealthRequest{}); err != nil {
		t.Fatal(err)
	}
	if r.attempts() != 3 {
		t.Errorf("attempts = %d, want 3", r.attempts())
	}
}

func TestRestartIsNotRetried(t *testing.T) {
	r := startRecorder(t, 1)
	_, err := dial(t, r.addr, rebound.WithRetryPolicy(fastRetry)).Restart.Restart(ctx(t), &reboundv1.RestartRequest{})
	if status.Code(err) != codes.Unavailable || r.attempts() != 1 {
		t.Errorf("err = %v, attempts = %d; want UNAVAILABLE after 1 attempt", err, r.attempts())
	}
}

func TestRetryCanBeDisabled(t *testing.T) {
	r := startRecorder(t, 1)
	_, err := dial(t, r.addr, rebound.WithoutRetry()).Health.GetHealth(ctx(t), &reboundv1.GetHealthRequest{})
	if status.Code(err) != codes.Unavailable || r.attempts() != 1 {
		t.Errorf("err = %v, attempts = %d; want UNAVAILABLE after 1 attempt", err, r.attempts())
	}
}

// ConfigService is served: its generated client works against the real reload pipeline.
func TestConfigServiceEndToEnd(t *testing.T) {
	server := testserver.Start(t)
	client := dial(t, server.Addr())
	config, err := client.Config.GetConfig(ctx(t), &reboundv1.GetConfigRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if config.GetSource() != reboundv1.ConfigSource_CONFIG_SOURCE_FILE || !strings.Contains(config.GetToml(), server.Addr()) {
		t.Errorf("GetConfig = %v", config)
	}
	bad := "version = 1\n[server]\nbogus = 1\n"
	result, err := client.Config.Validate(ctx(t), &reboundv1.ValidateRequest{Candidate: &reboundv1.ValidateRequest_Content{Content: bad}})
	if err != nil {
		t.Fatal(err)
	}
	if result.GetValid() || result.GetResult() != reboundv1.ReloadResult_RELOAD_RESULT_VALIDATION_FAILED {
		t.Errorf("Validate(bogus key) = %v", result)
	}
	reload, err := client.Config.Reload(ctx(t), &reboundv1.ReloadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if reload.GetEvent().GetResult() != reboundv1.ReloadResult_RELOAD_RESULT_UNCHANGED {
		t.Errorf("Reload = %v", reload)
	}
}

// RecoveryService is served: the start-up recovery report of a fresh server.
func TestRecoveryServiceEndToEnd(t *testing.T) {
	server := testserver.Start(t)
	client := dial(t, server.Addr())
	report, err := client.Recovery.GetRecoveryReport(ctx(t), &reboundv1.GetRecoveryReportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if report.GetReport().GetPreviousRun() != reboundv1.PreviousRun_PREVIOUS_RUN_FIRST_START || int(report.GetReport().GetPid()) != server.Pid() {
		t.Errorf("GetRecoveryReport = %v", report)
	}
}
