package rebound

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	cases := []struct {
		in, target string
		tls        bool
	}{
		{"127.0.0.1:50051", "dns:///127.0.0.1:50051", false},
		{"http://localhost:1", "dns:///localhost:1", false},
		{"https://rebound.example:443", "dns:///rebound.example:443", true},
		{"[::1]:50051", "dns:///[::1]:50051", false},
		{"unix:/run/rebound.sock", "unix:/run/rebound.sock", false},
		{"unix:///run/rebound.sock", "unix:/run/rebound.sock", false},
	}
	for _, c := range cases {
		got, err := ParseAddress(c.in)
		if err != nil || got.Target != c.target || got.TLS != c.tls {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %s tls=%v", c.in, got, err, c.target, c.tls)
		}
	}
	for _, bad := range []string{"localhost", "unix:", "ftp://h:1", "h:port", ":1"} {
		if _, err := ParseAddress(bad); err == nil || !strings.Contains(err.Error(), "use host:port") {
			t.Errorf("ParseAddress(%q) err = %v", bad, err)
		}
	}
}

func TestServiceConfig(t *testing.T) {
	raw, err := DefaultRetryPolicy.ServiceConfig()
	if err != nil {
		t.Fatal(err)
	}
	var config struct {
		MethodConfig []struct {
			Name        []map[string]string
			RetryPolicy map[string]any
		}
	}
	if err := json.Unmarshal([]byte(raw), &config); err != nil {
		t.Fatal(err)
	}
	retried, notRetried := config.MethodConfig[0], config.MethodConfig[1]
	if len(retried.Name) != len(Services) || retried.RetryPolicy["maxAttempts"] != 5.0 {
		t.Errorf("retried entry: %+v", retried)
	}
	if notRetried.RetryPolicy != nil || len(notRetried.Name) != len(NotRetried) || notRetried.Name[0]["method"] != "Restart" {
		t.Errorf("not-retried entry: %+v", notRetried)
	}
	if _, err := (RetryPolicy{MaxAttempts: 9}).ServiceConfig(); err == nil {
		t.Error("MaxAttempts 9 accepted")
	}
	if _, err := TLSConfig("", "cert.pem", "", ""); err == nil {
		t.Error("certificate without key accepted")
	}
}
