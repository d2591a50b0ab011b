package main

import (
	"bytes"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// mailbox is a real SMTP server (github.com/emersion/go-smtp) that keeps
// every message Foyer's mail worker delivers to it, so that tests read
// emails the way a person would: from the mail server.
type mailbox struct {
	Addr string
	srv  *smtp.Server

	mu       sync.Mutex
	messages []email
	arrived  chan struct{}
}

// email is one delivered message, taken apart.
type email struct {
	To      string
	Subject string
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded
}

// startMailbox serves SMTP on addr ("127.0.0.1:0" for any port) until the
// test ends or Close.
func startMailbox(t *testing.T, addr string) *mailbox {
	t.Helper()
	m := &mailbox{arrived: make(chan struct{}, 100)}
	m.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &mailboxSession{box: m, t: t}, nil
	}))
	m.srv.Domain = "mailbox.test"
	m.srv.ErrorLog = log.New(io.Discard, "", 0)
	var ln net.Listener
	var err error
	// A mailbox restarted on its old port may find it not released yet.
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen for SMTP on %s: %v", addr, err)
	}
	m.Addr = ln.Addr().String()
	go m.srv.Serve(ln)
	t.Cleanup(m.Close)
	return m
}

// URL is the smtp.url that sends to this mailbox.
func (m *mailbox) URL() string { return "smtp://" + m.Addr }

// Close stops the server: the mail server is down from now on.
func (m *mailbox) Close() { m.srv.Close() }

// Messages returns what arrived so far.
func (m *mailbox) Messages() []email {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]email(nil), m.messages...)
}

// Wait returns the first n messages, failing the test when they take
// longer than 20 s (the worker polls every second).
func (m *mailbox) Wait(t *testing.T, n int) []email {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		if got := m.Messages(); len(got) >= n {
			return got[:n]
		}
		select {
		case <-m.arrived:
		case <-timeout:
			t.Fatalf("mailbox got %d messages, want %d", len(m.Messages()), n)
		}
	}
}

// Quiet checks that no more than n messages arrive within d: what was not
// sent by then, the worker (polling every second) would have sent.
func (m *mailbox) Quiet(t *testing.T, n int, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	if got := m.Messages(); len(got) > n {
		t.Errorf("mailbox got %d messages, want %d:\n%+v", len(got), n, got[n:])
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+`)

// Link is the one link of the email's text part.
func (e email) Link(t *testing.T) string {
	t.Helper()
	links := linkRE.FindAllString(e.Text, -1)
	if len(links) != 1 {
		t.Fatalf("email %q has links %q, want one:\n%s", e.Subject, links, e.Text)
	}
	return links[0]
}

type mailboxSession struct {
	box *mailbox
	t   *testing.T
	to  string
}

func (s *mailboxSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *mailboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}

func (s *mailboxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	e, err := parseEmail(b)
	if err != nil {
		s.t.Errorf("mailbox: %v\n%s", err, b)
		return err
	}
	e.To = s.to
	s.box.mu.Lock()
	s.box.messages = append(s.box.messages, e)
	s.box.mu.Unlock()
	s.box.arrived <- struct{}{}
	return nil
}

func (s *mailboxSession) Reset()        { s.to = "" }
func (s *mailboxSession) Logout() error { return nil }

// parseEmail decodes the subject and the text and HTML parts of a message.
func parseEmail(data []byte) (email, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return email{}, err
	}
	var e email
	if e.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return e, err
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return e, err
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		e.Text, err = decodePart(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return e, err
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return e, nil
		}
		if err != nil {
			return e, err
		}
		body, err := decodePart(p.Header.Get("Content-Transfer-Encoding"), p)
		if err != nil {
			return e, err
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			e.HTML = body
		} else {
			e.Text = body
		}
	}
}

func decodePart(encoding string, body io.Reader) (string, error) {
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	return strings.ReplaceAll(string(b), "\r\n", "\n"), err
}
