package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/ethereum-optimism/optimism/op-node/p2p"
	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum-optimism/optimism/op-service/eth"
)

// maxResponse is op-node's bound on a payload_by_number response (10 MiB, raw and decoded).
const maxResponse = 10 << 20

// readCommands reads commands from stdin until it closes:
//
//	fetch <peer id> <block number>   payload_by_number on op-node's id and on the spec's
//
// op-node removed its req/resp client (optimism PR #21498); this follows the wire format of
// op-node's server (op-node/p2p/sync.go) and decodes with op-node's SSZ types and block-hash
// check, so opmesh's server is read the way op-node's client read it.
func readCommands(ctx context.Context, h host.Host, cfg *rollup.Config, out *emitter) {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 3 && f[0] == "fetch" {
			id, err := peer.Decode(f[1])
			n, nerr := strconv.ParseUint(f[2], 10, 64)
			if err != nil || nerr != nil {
				out.emit("command_failed", map[string]any{"line": in.Text()})
				continue
			}
			opNodeID := p2p.PayloadByNumberProtocolID(cfg.L2ChainID)
			for _, proto := range []protocol.ID{opNodeID, opNodeID + "/"} {
				out.emit("fetched", fetch(ctx, h, cfg, id, proto, n))
			}
		}
	}
}

func fetch(ctx context.Context, h host.Host, cfg *rollup.Config, id peer.ID, proto protocol.ID, n uint64) map[string]any {
	res := map[string]any{"protocol": string(proto), "number": n}
	fail := func(err error) map[string]any {
		res["error"] = err.Error()
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := h.NewStream(ctx, id, proto)
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if err := binary.Write(s, binary.LittleEndian, n); err != nil {
		return fail(err)
	}
	if err := s.CloseWrite(); err != nil {
		return fail(err)
	}
	var code [1]byte
	if _, err := io.ReadFull(s, code[:]); err != nil {
		return fail(fmt.Errorf("result code: %w", err))
	}
	res["result_code"] = code[0]
	if code[0] != 0 {
		return res
	}
	var version uint32
	if err := binary.Read(s, binary.LittleEndian, &version); err != nil {
		return fail(fmt.Errorf("version: %w", err))
	}
	res["version"] = version
	data, err := io.ReadAll(io.LimitReader(snappy.NewReader(io.LimitReader(s, maxResponse)), maxResponse))
	if err != nil {
		return fail(fmt.Errorf("snappy frames: %w", err))
	}
	env := &eth.ExecutionPayloadEnvelope{}
	switch version {
	case 0:
		v := eth.BlockV1
		if cfg.IsCanyon(timestampOf(data)) {
			v = eth.BlockV2
		}
		payload := &eth.ExecutionPayload{}
		if err := payload.UnmarshalSSZ(v, uint32(len(data)), bytes.NewReader(data)); err != nil {
			return fail(fmt.Errorf("ssz: %w", err))
		}
		env.ExecutionPayload = payload
	case 1:
		v := eth.BlockV3
		if len(data) > 32 && cfg.IsIsthmus(timestampOf(data[32:])) {
			v = eth.BlockV4
		}
		if err := env.UnmarshalSSZ(v, uint32(len(data)), bytes.NewReader(data)); err != nil {
			return fail(fmt.Errorf("ssz: %w", err))
		}
	default:
		return fail(fmt.Errorf("unknown version %d", version))
	}
	hash, ok := env.CheckBlockHash()
	res["block_number"] = uint64(env.ExecutionPayload.BlockNumber)
	res["block_hash"] = env.ExecutionPayload.BlockHash.String()
	res["hash_ok"] = ok && hash == env.ExecutionPayload.BlockHash
	return res
}

// timestampOf reads the timestamp of an SSZ execution payload (offset 428) to pick the
// payload version by fork, as op-node's client did; 0 if too short.
func timestampOf(ssz []byte) uint64 {
	if len(ssz) < 436 {
		return 0
	}
	return binary.LittleEndian.Uint64(ssz[428:436])
}
