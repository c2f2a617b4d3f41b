package rebound_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	reboundv1 "github.com/rebound-dev/rebound/clients/go/gen/rebound/v1"
	"github.com/rebound-dev/rebound/clients/go/internal/testserver"
	"github.com/rebound-dev/rebound/clients/go/rebound"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// testCA signs certificates for one test and writes them as PEM files into dir.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, dir string) *testCA {
	ca := &testCA{t: t, dir: dir}
	ca.cert, ca.key = ca.sign(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "go test ca"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, "ca")
	return ca
}

// sign issues template (self-signed when ca.cert is nil) and writes name.pem and name.key.
func (ca *testCA) sign(template *x509.Certificate, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	template.SerialNumber = big.NewInt(time.Now().UnixNano())
	template.NotBefore = time.Now().Add(-time.Hour)
	template.NotAfter = time.Now().Add(24 * time.Hour)
	parent, signer := template, key
	if ca.cert != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, &key.PublicKey, signer)
	if err != nil {
		ca.t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		ca.t.Fatal(err)
	}
	ca.write(name+".pem", "CERTIFICATE", der)
	ca.write(name+".key", "PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		ca.t.Fatal(err)
	}
	return cert, key
}

func (ca *testCA) write(name, kind string, der []byte) {
	if err := os.WriteFile(filepath.Join(ca.dir, name), pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		ca.t.Fatal(err)
	}
}

func (ca *testCA) path(name string) string { return filepath.Join(ca.dir, name) }

// A client certificate listed in the server's tokens file authenticates the Go client over
// mutual TLS; without it (and without a token) the call is UNAUTHENTICATED.
func TestMutualTLSWithAClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	ca.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, "server")
	ca.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "go-client"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, "client")
	tokens := "[[clients]]\nname = \"go-client\"\nrole = \"viewer\"\n"
	if err := os.WriteFile(filepath.Join(dir, "tokens.toml"), []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	server := testserver.StartIn(t, dir, "[server.tls]\ncert_file = \"server.pem\"\nkey_file = \"server.key\"\n"+
		"client_ca_file = \"ca.pem\"\n[auth]\ntokens_file = \"tokens.toml\"\n")

	withCert, err := rebound.TLSConfig(ca.path("ca.pem"), ca.path("client.pem"), ca.path("client.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	report, err := dial(t, "https://"+server.Addr(), rebound.WithTLS(withCert)).Health.GetHealth(ctx(t), &reboundv1.GetHealthRequest{})
	if err != nil {
		t.Fatalf("with a listed client certificate: %v", err)
	}
	if report.GetStatus() != reboundv1.ServingStatus_SERVING_STATUS_SERVING {
		t.Errorf("status = %v", report.GetStatus())
	}

	without, err := rebound.TLSConfig(ca.path("ca.pem"), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = dial(t, "https://"+server.Addr(), rebound.WithTLS(without)).Health.GetHealth(ctx(t), &reboundv1.GetHealthRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("without a certificate or token: %v, want UNAUTHENTICATED", err)
	}
}
