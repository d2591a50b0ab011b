// Command foyer runs the Foyer OpenID Connect server and administers it.
//
// Every command prints JSON on stdout with --json, and on failure exits
// non-zero with one line per problem on stderr.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"
)

func main() {
	// gin's mode is process-wide; release mode keeps its debug route dump
	// and warnings out of our structured logs.
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
