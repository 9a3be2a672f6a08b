package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
	"github.com/urfave/cli/v2"

	"github.com/ethereum-optimism/optimism/op-node/p2p"
	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-service/eth"
)

func seeded(tag string, n uint64) common.Hash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return common.Hash(sha256.Sum256(append([]byte(tag), b[:]...)))
}

// makeEnvelope builds a synthetic block of the version the fork schedule gives at `ts`, with
// a correct block hash (op-node's CheckBlockHash) and no transactions.
func makeEnvelope(cfg *rollup.Config, number, ts uint64, parent common.Hash) *eth.ExecutionPayloadEnvelope {
	payload := &eth.ExecutionPayload{
		ParentHash:    parent,
		FeeRecipient:  common.Address{0x42},
		StateRoot:     eth.Bytes32(seeded("state", number)),
		ReceiptsRoot:  eth.Bytes32(types.EmptyReceiptsHash),
		PrevRandao:    eth.Bytes32(seeded("randao", number)),
		BlockNumber:   eth.Uint64Quantity(number),
		GasLimit:      30_000_000,
		Timestamp:     eth.Uint64Quantity(ts),
		ExtraData:     eth.BytesMax32(binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixMilli()))),
		BaseFeePerGas: eth.Uint256Quantity(*uint256.NewInt(1_000_000)),
		Transactions:  []eth.Data{},
	}
	env := &eth.ExecutionPayloadEnvelope{ExecutionPayload: payload}
	if cfg.IsCanyon(ts) {
		payload.Withdrawals = &types.Withdrawals{}
	}
	if cfg.IsEcotone(ts) {
		zero := eth.Uint64Quantity(0)
		payload.BlobGasUsed, payload.ExcessBlobGas = &zero, &zero
		root := seeded("beacon", ts)
		env.ParentBeaconBlockRoot = &root
	}
	if cfg.IsIsthmus(ts) {
		// Not the empty-withdrawals hash: op-node infers V4 from a non-empty root.
		root := seeded("withdrawals", number)
		payload.WithdrawalsRoot = &root
	}
	hash, _ := env.CheckBlockHash()
	payload.BlockHash = hash
	return env
}

// produce signs and publishes blocks through op-node's publisher (which picks the topic by
// timestamp) every --produce.interval.
func produce(ctx context.Context, c *cli.Context, cfg *rollup.Config, gossip p2p.GossipOut, signer p2p.Signer, out *emitter) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(c.Duration("produce.delay")):
	}
	var stamps []uint64
	for _, s := range c.StringSlice("produce.timestamps") {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			out.emit("produce_failed", map[string]any{"error": "bad timestamp " + s})
			return
		}
		stamps = append(stamps, v)
	}
	count := c.Uint64("produce.count")
	if len(stamps) > 0 {
		count = uint64(len(stamps))
	}
	number := c.Uint64("produce.first")
	parent := seeded("parent", number)
	t := time.NewTicker(c.Duration("produce.interval"))
	defer t.Stop()
	for i := uint64(0); count == 0 || i < count; i++ {
		ts := uint64(time.Now().Unix())
		if len(stamps) > 0 {
			ts = stamps[i]
		}
		env := makeEnvelope(cfg, number, ts, parent)
		if err := gossip.SignAndPublishL2Payload(ctx, env, signer); err != nil {
			out.emit("produce_failed", map[string]any{"number": number, "error": err.Error()})
		}
		parent = env.ExecutionPayload.BlockHash
		number++
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	out.emit("produce_done", map[string]any{"blocks": count})
}
