package main

import (
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/urfave/cli/v2"

	"github.com/ethereum-optimism/optimism/op-node/rollup"
)

// chainFlags select the chain: op-node reads these from rollup.json; the peer takes them as
// flags (unix seconds; unset = the fork is not scheduled).
var chainFlags = []cli.Flag{
	&cli.Uint64Flag{Name: "l2.chain-id", Value: 901, Usage: "L2 chain id"},
	&cli.Uint64Flag{Name: "block-time", Value: 2, Usage: "L2 block time (seconds), for the peer-score parameters"},
	&cli.StringFlag{Name: "canyon-time", Value: "0", Usage: "Canyon activation (unix seconds, empty = never)"},
	&cli.StringFlag{Name: "ecotone-time", Value: "0", Usage: "Ecotone activation"},
	&cli.StringFlag{Name: "isthmus-time", Value: "0", Usage: "Isthmus activation"},
	&cli.StringFlag{Name: "jovian-time", Value: "", Usage: "Jovian activation"},
	&cli.StringFlag{Name: "p2p.unsafe.block.signer", Usage: "the unsafe-block signer address (op-node reads it from L1's SystemConfig)"},
}

func forkTime(c *cli.Context, name string) (*uint64, error) {
	s := c.String(name)
	if s == "" {
		return nil, nil
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || !v.IsUint64() {
		return nil, cli.Exit("bad --"+name+": "+s, 2)
	}
	u := v.Uint64()
	return &u, nil
}

// rollupConfig builds the parts of op-node's rollup.Config the p2p package reads: the chain id,
// block time and fork times (topic choice, Jovian rule).
func rollupConfig(c *cli.Context) (*rollup.Config, error) {
	cfg := &rollup.Config{
		L2ChainID: new(big.Int).SetUint64(c.Uint64("l2.chain-id")),
		BlockTime: c.Uint64("block-time"),
	}
	zero := uint64(0)
	cfg.RegolithTime = &zero
	var err error
	if cfg.CanyonTime, err = forkTime(c, "canyon-time"); err != nil {
		return nil, err
	}
	cfg.DeltaTime = cfg.CanyonTime
	if cfg.EcotoneTime, err = forkTime(c, "ecotone-time"); err != nil {
		return nil, err
	}
	cfg.FjordTime, cfg.GraniteTime, cfg.HoloceneTime = cfg.EcotoneTime, cfg.EcotoneTime, cfg.EcotoneTime
	if cfg.IsthmusTime, err = forkTime(c, "isthmus-time"); err != nil {
		return nil, err
	}
	if cfg.JovianTime, err = forkTime(c, "jovian-time"); err != nil {
		return nil, err
	}
	return cfg, nil
}

// runtimeConfig is op-node's GossipRuntimeConfig with a fixed signer and no rotation.
type runtimeConfig struct {
	mu     sync.Mutex
	signer common.Address
}

func (r *runtimeConfig) P2PSequencerAddress() common.Address {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.signer
}

func (r *runtimeConfig) PreviousP2PSequencerAddress() common.Address { return common.Address{} }

func (r *runtimeConfig) ConfirmCurrentSigner() {}

func newRuntimeConfig(c *cli.Context) (*runtimeConfig, error) {
	s := c.String("p2p.unsafe.block.signer")
	if s == "" {
		return &runtimeConfig{}, nil
	}
	if !common.IsHexAddress(s) {
		return nil, cli.Exit("bad --p2p.unsafe.block.signer: "+s, 2)
	}
	return &runtimeConfig{signer: common.HexToAddress(s)}, nil
}
