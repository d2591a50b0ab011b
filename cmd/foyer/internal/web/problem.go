package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Problem is an RFC 9457 problem-details body.
type Problem struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// AbortProblem answers status with a problem-details body whose title is the
// status text, and stops the handler chain. detail must be safe to show.
func AbortProblem(c *gin.Context, status int, detail string) {
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(status, Problem{Title: http.StatusText(status), Status: status, Detail: detail})
}
