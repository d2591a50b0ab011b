package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations (serve applies them too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(false)
			if err != nil {
				return err
			}
			store, report, err := openStore(cmd.Context(), cfg.Database, a.commandLogger())
			if err != nil {
				return err
			}
			defer store.Close()
			applied := report.Applied
			if applied == nil {
				applied = []string{}
			}
			return a.print(struct {
				Backend string   `json:"backend"`
				Applied []string `json:"applied"`
				Version int64    `json:"version"`
			}{backendName(cfg.Database), applied, report.Version},
				fmt.Sprintf("%s database at schema version %d; migrations applied now: %d",
					backendName(cfg.Database), report.Version, len(applied)))
		},
	}
}
