// Command rebound-health prints a rebound server's health report using the Go client.
//
//	rebound-health -addr 127.0.0.1:50051
//	rebound-health -addr unix:/run/rebound/rebound.sock -token "$TOKEN"
//	rebound-health -addr https://rebound.example:443 -ca ca.pem -cert me.pem -key me.key
//
// Exit status: 0 when the server is SERVING, 69 when it is not or cannot be reached, 64 for
// bad flags (the same codes as the rebound CLI).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	reboundv1 "github.com/rebound-dev/rebound/clients/go/gen/rebound/v1"
	"github.com/rebound-dev/rebound/clients/go/rebound"
)

const (
	exitOK          = 0
	exitUsage       = 64
	exitUnavailable = 69
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("rebound-health", flag.ContinueOnError)
	flags.SetOutput(stderr)
	defaultAddr := rebound.DefaultAddress
	if env := os.Getenv("REBOUND_ADDR"); env != "" {
		defaultAddr = env
	}
	addr := flags.String("addr", defaultAddr, "server address: host:port, http://host:port, https://host:port or unix:PATH (env REBOUND_ADDR)")
	token := flags.String("token", "", "bearer token (default: env REBOUND_TOKEN)")
	ca := flags.String("ca", "", "PEM file of root CAs to trust (enables TLS)")
	cert := flags.String("cert", "", "PEM client certificate for mutual TLS (with -key)")
	key := flags.String("key", "", "PEM client key for mutual TLS (with -cert)")
	timeout := flags.Duration("timeout", 10*time.Second, "deadline for the call, retries included")
	if err := flags.Parse(args); err != nil {
		return exitUsage
	}

	var opts []rebound.Option
	if *token != "" {
		opts = append(opts, rebound.WithToken(*token))
	}
	if *ca != "" || *cert != "" || *key != "" {
		cfg, err := rebound.TLSConfig(*ca, *cert, *key, "")
		if err != nil {
			fmt.Fprintf(stderr, "rebound-health: %v\n", err)
			return exitUsage
		}
		opts = append(opts, rebound.WithTLS(cfg))
	}
	client, err := rebound.Dial(*addr, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "rebound-health: %v\n", err)
		return exitUsage
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	report, err := client.Health.GetHealth(ctx, &reboundv1.GetHealthRequest{})
	if err != nil {
		fmt.Fprintf(stderr, "rebound-health: %v\n", rebound.Explain(*addr, reboundv1.HealthService_GetHealth_FullMethodName, err))
		return exitUnavailable
	}
	fmt.Fprintf(stdout, "status      %s\nversion     %s (%s)\npid         %d\ngeneration  %d\nuptime      %s\ncomponents\n",
		report.GetStatus(), report.GetVersion(), report.GetGitSha(), report.GetPid(), report.GetGeneration(),
		report.GetUptime().AsDuration().Truncate(time.Second))
	for _, c := range report.GetComponents() {
		fmt.Fprintf(stdout, "  %-9s %-26s %s\n", c.GetName(), c.GetStatus(), c.GetDetail())
	}
	if report.GetStatus() != reboundv1.ServingStatus_SERVING_STATUS_SERVING {
		return exitUnavailable
	}
	return exitOK
}
