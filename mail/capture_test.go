package mail_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// captured is one message a capture server accepted.
type captured struct {
	From     string   // MAIL FROM
	To       []string // RCPT TO
	Data     []byte   // the message as sent
	TLS      bool     // the session ran over TLS (STARTTLS or implicit)
	Username string   // who authenticated, if anyone
}

// captureOptions shape a capture server.
type captureOptions struct {
	// TLS, when set, is offered with STARTTLS (or used from the first byte
	// with implicit); AUTH PLAIN is then offered over TLS only.
	TLS      *tls.Config
	implicit bool
	// Password, when set, is the only password AUTH PLAIN accepts.
	Password string
	// Reject, when set, answers RCPT TO for an address with its error.
	Reject func(rcpt string) error
}

// captureServer is a real SMTP server (github.com/emersion/go-smtp) that
// keeps what it receives.
type captureServer struct {
	Addr string
	srv  *smtp.Server
	opts captureOptions

	mu       sync.Mutex
	messages []captured
	arrived  chan struct{} // gets a value per accepted message
}

// startCapture serves SMTP on addr ("127.0.0.1:0" for any port) until the
// test ends or Close.
func startCapture(t *testing.T, addr string, opts captureOptions) *captureServer {
	t.Helper()
	c := &captureServer{opts: opts, arrived: make(chan struct{}, 1000)}
	c.srv = smtp.NewServer(smtp.BackendFunc(func(conn *smtp.Conn) (smtp.Session, error) {
		_, isTLS := conn.TLSConnectionState()
		return &captureSession{server: c, conn: conn, msg: captured{TLS: isTLS}}, nil
	}))
	c.srv.Domain = "capture.test"
	c.srv.ErrorLog = log.New(io.Discard, "", 0) // a stopped server's broken sessions are expected
	c.srv.ReadTimeout, c.srv.WriteTimeout = 10*time.Second, 10*time.Second
	c.srv.TLSConfig = opts.TLS
	var ln net.Listener
	var err error
	// The port may have been in use a moment ago (a stopped server's, or
	// a reserved one); give the OS a little time to release it.
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen for SMTP on %s: %v", addr, err)
	}
	if opts.implicit {
		ln = tls.NewListener(ln, opts.TLS)
	}
	c.Addr = ln.Addr().String()
	go c.srv.Serve(ln)
	t.Cleanup(func() { c.Close() })
	return c
}

// Close stops the server: the mail server is down from now on.
func (c *captureServer) Close() { c.srv.Close() }

// Messages returns what arrived so far.
func (c *captureServer) Messages() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.messages...)
}

// wait returns the first n messages, failing the test when they take
// longer than 20 s.
func (c *captureServer) wait(t *testing.T, n int) []captured {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		if got := c.Messages(); len(got) >= n {
			return got[:n]
		}
		select {
		case <-c.arrived:
		case <-timeout:
			t.Fatalf("capture server got %d messages, want %d", len(c.Messages()), n)
		}
	}
}

type captureSession struct {
	server *captureServer
	conn   *smtp.Conn
	msg    captured
}

func (s *captureSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *captureSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if s.server.opts.Password == "" || password != s.server.opts.Password {
			return errors.New("invalid credentials")
		}
		s.msg.Username = username
		return nil
	}), nil
}

func (s *captureSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.server.opts.Password != "" && s.msg.Username == "" {
		return smtp.ErrAuthRequired
	}
	s.msg.From = from
	return nil
}

func (s *captureSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.server.opts.Reject != nil {
		if err := s.server.opts.Reject(to); err != nil {
			return err
		}
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *captureSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg := s.msg
	msg.Data = b
	_, msg.TLS = s.conn.TLSConnectionState()
	s.server.mu.Lock()
	s.server.messages = append(s.server.messages, msg)
	s.server.mu.Unlock()
	s.server.arrived <- struct{}{}
	return nil
}

func (s *captureSession) Reset()        { s.msg.From, s.msg.To = "", nil }
func (s *captureSession) Logout() error { return nil }

// freeAddr returns a loopback address nobody listens on: a mail server
// that is down.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// selfSigned returns a server TLS config for 127.0.0.1 and a client one
// that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: roots}
}

// mimeMessage is a captured message taken apart.
type mimeMessage struct {
	Header netmail.Header
	// Parts maps each part's media type to its decoded body; a message
	// that is not multipart has one part.
	Parts map[string]string
	Order []string // the parts' media types in order
}

// parseMIME parses a captured message and decodes its parts.
func parseMIME(t *testing.T, data []byte) mimeMessage {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, data)
	}
	m := mimeMessage{Header: msg.Header, Parts: map[string]string{}}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		m.add(t, mediaType, msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return m
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return m
		}
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		partType, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part Content-Type %q: %v", p.Header.Get("Content-Type"), err)
		}
		m.add(t, partType, p.Header.Get("Content-Transfer-Encoding"), p)
	}
}

func (m *mimeMessage) add(t *testing.T, mediaType, encoding string, body io.Reader) {
	t.Helper()
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read %s part: %v", mediaType, err)
	}
	// SMTP lines end in CRLF; the parts were written with LF.
	m.Parts[mediaType] = strings.ReplaceAll(string(b), "\r\n", "\n")
	m.Order = append(m.Order, mediaType)
}
