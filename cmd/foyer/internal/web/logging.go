package web

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
)

// AccessLog writes one line per request. It logs the path but never the
// query string, which can carry authorization codes and tokens. When the
// logger would drop the line (say FOYER_LOG_LEVEL=warn and a 200), it builds
// no attributes, so hot paths such as JWKS and token pay nothing.
func AccessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		ctx := c.Request.Context()
		if !log.Enabled(ctx, level) {
			return
		}
		log.LogAttrs(ctx, level, "http request",
			slog.String("method", c.Request.Method),
			slog.String("route", route(c)),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.String("client_ip", c.ClientIP()),
		)
	}
}

// Recovery turns a panic into a 500 problem body. The stack goes to the log,
// never to the client.
func Recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p) // the client went away; net/http handles it quietly
				}
				log.ErrorContext(c.Request.Context(), "panic serving request",
					slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
				if !c.Writer.Written() {
					AbortProblem(c, http.StatusInternalServerError, "")
				} else {
					c.Abort()
				}
			}
		}()
		c.Next()
	}
}

// route is the matched route pattern, which keeps metric and log cardinality
// bounded whatever paths clients send.
func route(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}
