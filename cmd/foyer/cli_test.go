package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProblems(t *testing.T) {
	errA, errB := errors.New("issuer: must be https"), errors.New("log.level: must be one of debug, info")
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"one error", errA, []string{"issuer: must be https"}},
		{"joined errors, one line each", errors.Join(errA, errB), []string{errA.Error(), errB.Error()}},
		{"driver newlines folded", fmt.Errorf("database.url: %w", errors.New("failed:\n\thost a\n\thost b")),
			[]string{"database.url: failed: host a host b"}},
		{"several %w stay one message", fmt.Errorf("postgres unreachable: %w: %w", errA, errB),
			[]string{"postgres unreachable: issuer: must be https: log.level: must be one of debug, info"}},
	} {
		if diff := cmp.Diff(tc.want, problems(tc.err)); diff != "" {
			t.Errorf("%s: problems() mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
}
