package pgtest

import (
	"io"
	"net"
	"testing"
)

func TestProxyCutsAndRestores(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	p := NewProxy(t, echo.Addr().String())
	roundTrip := func() error {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write([]byte("x")); err != nil {
			return err
		}
		_, err = io.ReadFull(c, make([]byte, 1))
		return err
	}
	if err := roundTrip(); err != nil {
		t.Fatalf("before cut: %v", err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read on a cut connection = %d bytes, want an error", n)
	}
	if err := roundTrip(); err == nil {
		t.Error("round trip while cut succeeded")
	}
	p.Restore()
	if err := roundTrip(); err != nil {
		t.Errorf("after restore: %v", err)
	}
}
