package rebound_test

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc/metadata"
)

func metadataFrom(c context.Context) (map[string][]string, bool) {
	md, ok := metadata.FromIncomingContext(c)
	return md, ok
}

func listen(t *testing.T) net.Listener {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return listener
}
