// Package rebound is a thin client for the rebound v1 gRPC API.
//
// Dial opens one connection (lazily, like grpc.NewClient) and exposes the generated
// clients of every service on it. It owns how the connection is made — address forms,
// TLS, the bearer token and the retry policy on UNAVAILABLE, which is gRPC's own (the
// retryPolicy of the service config), never a hand-written loop — and nothing about the
// calls themselves: use the generated request and response types from
// github.com/rebound-dev/rebound/clients/go/gen/rebound/v1.
//
//	client, err := rebound.Dial("127.0.0.1:50051")
//	if err != nil { ... }
//	defer client.Close()
//	report, err := client.Health.GetHealth(ctx, &reboundv1.GetHealthRequest{})
package rebound

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	reboundv1 "github.com/rebound-dev/rebound/clients/go/gen/rebound/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// TokenEnv is the environment variable read for the bearer token when WithToken is not used.
const TokenEnv = "REBOUND_TOKEN"

// DefaultAddress is where a local server listens by default.
const DefaultAddress = "127.0.0.1:50051"

// Client holds one connection to a rebound server and the generated client of each service.
type Client struct {
	conn     *grpc.ClientConn
	Health   reboundv1.HealthServiceClient
	Restart  reboundv1.RestartServiceClient
	Config   reboundv1.ConfigServiceClient
	Commands reboundv1.ClientCommandServiceClient
	Recovery reboundv1.RecoveryServiceClient
}

type options struct {
	token    *string
	tls      *tls.Config
	retry    *RetryPolicy
	dialOpts []grpc.DialOption
}

// Option configures Dial.
type Option func(*options)

// WithToken sends "authorization: Bearer <token>" on every call. Without it the token comes
// from the REBOUND_TOKEN environment variable, if set.
func WithToken(token string) Option { return func(o *options) { o.token = &token } }

// WithTLS dials with TLS using cfg (see TLSConfig for root CAs and a client certificate).
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithRetryPolicy replaces the default retry policy on UNAVAILABLE.
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = &p } }

// WithoutRetry disables automatic retries.
func WithoutRetry() Option { return func(o *options) { o.retry = &RetryPolicy{} } }

// WithDialOptions adds raw grpc dial options (interceptors, keepalive, ...).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// Target is a parsed server address.
type Target struct {
	// Target is the gRPC target string ("dns:///host:port" or "unix:PATH").
	Target string
	// TLS is true for https:// addresses.
	TLS bool
}

// ParseAddress accepts host:port, http://host:port, https://host:port (TLS) and unix:PATH.
func ParseAddress(addr string) (Target, error) {
	invalid := func(reason string) error {
		return fmt.Errorf("invalid address %q: %s (use host:port, http://host:port, https://host:port or unix:PATH)", addr, reason)
	}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if strings.HasPrefix(path, "//") {
			path = "/" + strings.TrimLeft(path, "/")
		}
		if path == "" {
			return Target{}, invalid("empty socket path")
		}
		return Target{Target: "unix:" + path}, nil
	}
	scheme, rest, found := strings.Cut(addr, "://")
	if !found {
		scheme, rest = "http", addr
	} else if scheme != "http" && scheme != "https" {
		return Target{}, invalid("unknown scheme")
	}
	rest = strings.TrimRight(rest, "/")
	u, err := url.Parse("//" + rest)
	if err != nil || u.Hostname() == "" {
		return Target{}, invalid("missing host")
	}
	if _, err := strconv.ParseUint(u.Port(), 10, 16); err != nil {
		return Target{}, invalid("missing port")
	}
	return Target{Target: "dns:///" + rest, TLS: scheme == "https"}, nil
}

// Dial prepares a connection to addr; it connects on the first call (and reconnects as
// needed), so a server that is restarting does not make Dial fail.
func Dial(addr string, opts ...Option) (*Client, error) {
	target, err := ParseAddress(addr)
	if err != nil {
		return nil, err
	}
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.tls == nil && target.TLS {
		o.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	retry := DefaultRetryPolicy
	if o.retry != nil {
		retry = *o.retry
	}
	dial := []grpc.DialOption{}
	if o.tls != nil {
		dial = append(dial, grpc.WithTransportCredentials(credentials.NewTLS(o.tls)))
	} else {
		dial = append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if retry.MaxAttempts > 1 {
		config, err := retry.ServiceConfig()
		if err != nil {
			return nil, err
		}
		dial = append(dial, grpc.WithDefaultServiceConfig(config))
	} else {
		dial = append(dial, grpc.WithDisableRetry())
	}
	token := os.Getenv(TokenEnv)
	if o.token != nil {
		token = *o.token
	}
	if token != "" {
		if strings.ContainsAny(token, "\r\n") {
			return nil, fmt.Errorf("token: must be on one line")
		}
		dial = append(dial, grpc.WithPerRPCCredentials(bearer{token: token}))
	}
	conn, err := grpc.NewClient(target.Target, append(dial, o.dialOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("rebound: %s: %w", addr, err)
	}
	return &Client{
		conn:     conn,
		Health:   reboundv1.NewHealthServiceClient(conn),
		Restart:  reboundv1.NewRestartServiceClient(conn),
		Config:   reboundv1.NewConfigServiceClient(conn),
		Commands: reboundv1.NewClientCommandServiceClient(conn),
		Recovery: reboundv1.NewRecoveryServiceClient(conn),
	}, nil
}

// Conn is the underlying connection, for other clients on the same channel.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// bearer sends the token as call credentials. Plaintext is allowed so that local servers
// (loopback, unix socket) work; use TLS for anything else.
type bearer struct{ token string }

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return false }
