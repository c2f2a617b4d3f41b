package rebound

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Services are the services of the rebound v1 API; the retry policy applies to all of them.
var Services = []string{
	"rebound.v1.HealthService",
	"rebound.v1.RestartService",
	"rebound.v1.ConfigService",
	"rebound.v1.ClientCommandService",
	"rebound.v1.RecoveryService",
}

// NotRetried lists methods ("service/method") never retried automatically: repeating them
// after an ambiguous failure could act twice (a second restart, reload, cleanup or backup).
// The other methods are reads, or idempotent on a key the caller sets (command_id,
// rollout_id: set it before calling IssueCommand or StartRollout).
var NotRetried = []string{
	"rebound.v1.RestartService/Restart",
	"rebound.v1.RestartService/RollingRestart",
	"rebound.v1.ConfigService/Reload",
	"rebound.v1.RecoveryService/RunCleanup",
	"rebound.v1.RecoveryService/Backup",
}

// RetryPolicy is the gRPC retry policy applied to UNAVAILABLE (server restarting or
// draining). MaxAttempts counts the first call (2 to 5; 0 or 1 disables retries); the
// backoff grows from InitialBackoff by Multiplier up to MaxBackoff, with gRPC's jitter.
type RetryPolicy struct {
	MaxAttempts    int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	Multiplier     float64
}

// DefaultRetryPolicy: 5 attempts, 200 ms doubling up to 5 s.
var DefaultRetryPolicy = RetryPolicy{
	MaxAttempts:    5,
	InitialBackoff: 200 * time.Millisecond,
	MaxBackoff:     5 * time.Second,
	Multiplier:     2,
}

type methodName struct {
	Service string `json:"service"`
	Method  string `json:"method,omitempty"`
}

// ServiceConfig renders the policy as the JSON service config gRPC applies.
func (p RetryPolicy) ServiceConfig() (string, error) {
	if p.MaxAttempts < 2 || p.MaxAttempts > 5 {
		return "", fmt.Errorf("retry policy: MaxAttempts must be 2 to 5, got %d", p.MaxAttempts)
	}
	if p.InitialBackoff <= 0 || p.MaxBackoff < p.InitialBackoff || p.Multiplier <= 0 {
		return "", fmt.Errorf("retry policy: backoffs must be positive and MaxBackoff >= InitialBackoff")
	}
	retried := []methodName{}
	for _, s := range Services {
		retried = append(retried, methodName{Service: s})
	}
	notRetried := []methodName{}
	for _, m := range NotRetried {
		service, method, _ := strings.Cut(m, "/")
		notRetried = append(notRetried, methodName{Service: service, Method: method})
	}
	seconds := func(d time.Duration) string { return fmt.Sprintf("%gs", d.Seconds()) }
	config := map[string]any{
		"methodConfig": []any{
			map[string]any{
				"name": retried,
				"retryPolicy": map[string]any{
					"maxAttempts":          p.MaxAttempts,
					"initialBackoff":       seconds(p.InitialBackoff),
					"maxBackoff":           seconds(p.MaxBackoff),
					"backoffMultiplier":    p.Multiplier,
					"retryableStatusCodes": []string{"UNAVAILABLE"},
				},
			},
			map[string]any{"name": notRetried},
		},
	}
	out, err := json.Marshal(config)
	return string(out), err
}
