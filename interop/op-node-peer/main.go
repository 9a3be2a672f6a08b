// op-node-peer: an OP Stack gossip peer built from op-node's own p2p package (host, gater,
// connection manager, gossipsub parameters, message-id function, subscription filter, block
// validator, peer scoring, geth discv5 with the opstack ENR entry), for opmesh's interop tests.
// It prints one JSON event per line on stdout.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Name:     "op-node-peer",
		Usage:    "an op-node P2P stack as a test peer",
		Commands: []*cli.Command{runCmd, validateCmd},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
