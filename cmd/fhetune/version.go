package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what `fhetune version --json` prints.
type versionInfo struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	TFHEGo   string `json:"tfhe_go"`
	Platform string `json:"platform"`
}

func newVersionCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the fhetune, Go and tfhe-go versions",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := versionInfo{
				Version:  version,
				Go:       runtime.Version(),
				TFHEGo:   moduleVersion("github.com/sp301415/tfhe-go"),
				Platform: runtime.GOOS + "/" + runtime.GOARCH,
			}
			if asJSON {
				return writeJSON(a.stdout, v)
			}
			_, err := fmt.Fprintf(a.stdout, "fhetune %s (%s, tfhe-go %s, %s)\n", v.Version, v.Go, v.TFHEGo, v.Platform)
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return c
}

// moduleVersion reports the version of a dependency linked into this binary.
func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, m := range info.Deps {
		if m.Path == path {
			return m.Version
		}
	}
	return "not linked"
}
