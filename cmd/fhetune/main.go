// Command fhetune tunes neural networks for encrypted inference under TFHE.
//
// Only this file prints errors and chooses exit codes: 0 on success, 2 for bad usage or
// bad input, 1 for a failure at run time. Every subcommand lives in a file of its own and
// returns errors from RunE.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process exit code. Interrupts cancel
// the context given to the command, so long work stops cleanly.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := newApp(stdout, stderr)
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "fhetune: %v\n", err)
	return exitCode(err, a.started)
}
