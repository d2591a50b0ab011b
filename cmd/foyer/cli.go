package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/foyerdev/foyer/config"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// app is what every command shares: the process's environment and outputs,
// and the global flags.
type app struct {
	environ    []string
	stdout     io.Writer
	stderr     io.Writer
	configPath string
	json       bool
}

// usageError marks a mistake in the command line itself.
type usageError struct{ error }

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	a := &app{environ: environ, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	for _, problem := range problems(err) {
		fmt.Fprintf(stderr, "foyer: %s\n", problem)
	}
	if errors.As(err, new(usageError)) {
		return exitUsage
	}
	return exitError
}

// problems renders err as one line per problem: the parts of a joined error
// (config reports every invalid key) each on a line, and any newlines a
// driver put inside a message folded, so scripts can rely on the shape.
func problems(err error) []string {
	if joined, ok := err.(interface{ Unwrap() []error }); ok && isJoin(err, joined.Unwrap()) {
		var lines []string
		for _, e := range joined.Unwrap() {
			lines = append(lines, problems(e)...)
		}
		return lines
	}
	return []string{strings.Join(strings.Fields(err.Error()), " ")}
}

// isJoin tells errors.Join's result (messages one per line) from an
// fmt.Errorf with several %w, which is one message.
func isJoin(err error, parts []error) bool {
	msgs := make([]string, len(parts))
	for i, p := range parts {
		msgs[i] = p.Error()
	}
	return err.Error() == strings.Join(msgs, "\n")
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "foyer",
		Short:         "Foyer: an OpenID Connect and OAuth 2.0 authorization server",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "YAML configuration file (default $FOYER_CONFIG)")
	root.PersistentFlags().BoolVar(&a.json, "json", false, "print the result as JSON")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(a.serveCommand(), a.migrateCommand(), a.usersCommand(), a.orgsCommand(), a.keysCommand(), a.clientsCommand(), a.consentsCommand())
	a.addManageCommands(root)
	root.AddCommand(a.loginCommand(), a.whoamiCommand(), a.logoutCommand(), a.apiCommand())
	root.AddCommand(a.webhooksCommand(), a.auditCommand())
	return root
}

// loadConfig reads the configuration file and FOYER_* variables.
func (a *app) loadConfig(dev bool) (config.Config, error) {
	return config.Load(a.configPath, a.environ, dev)
}

// print writes v as JSON with --json, or text otherwise.
func (a *app) print(v any, text string) error {
	if !a.json {
		_, err := fmt.Fprintln(a.stdout, text)
		return err
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// commandLogger is the logger of the one-shot commands: only errors, so the
// "one line on failure" promise holds.
func (a *app) commandLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// requireFlags reports missing required flags as one usage error.
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usageError{fmt.Errorf("%s: missing %s", cmd.CommandPath(), strings.Join(missing, ", "))}
	}
	return nil
}
