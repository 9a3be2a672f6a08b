package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/urfave/cli/v2"

	gcrypto "github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/p2p/enode"

	"github.com/ethereum-optimism/optimism/op-node/p2p"
	opsigner "github.com/ethereum-optimism/optimism/op-service/signer"
)

// p2pFlags are op-node's p2p flags (op-node/flags/p2p_flags.go) that the peer needs, with
// op-node's names and defaults. op-node's own flag and loader packages (op-node/flags,
// op-node/p2p/cli) cannot be compiled from the module proxy: they pull in op-node/chaincfg,
// which embeds a generated op-core/superchain/superchain-configs.zip that the published module
// does not contain. The p2p.Config built here is what op-node's loader would build (listen,
// discovery, libp2p, gossip, scoring and banning options), except that the peerstore and
// discovery table are always in memory.
var p2pFlags = []cli.Flag{
	&cli.StringFlag{Name: "p2p.priv.raw", Usage: "hex secp256k1 libp2p key (default: a fresh key)"},
	&cli.StringFlag{Name: "p2p.listen.ip", Value: "0.0.0.0"},
	&cli.UintFlag{Name: "p2p.listen.tcp", Value: 9222},
	&cli.UintFlag{Name: "p2p.listen.udp", Value: 0},
	&cli.StringFlag{Name: "p2p.advertise.ip"},
	&cli.BoolFlag{Name: "p2p.no-discovery"},
	&cli.StringSliceFlag{Name: "p2p.bootnodes", Usage: "ENRs (no default: op-node's public bootnodes are never used here)"},
	&cli.StringFlag{Name: "p2p.static", Usage: "comma-separated multiaddrs with /p2p/"},
	&cli.UintFlag{Name: "p2p.peers.lo", Value: 20},
	&cli.UintFlag{Name: "p2p.peers.hi", Value: 30},
	&cli.DurationFlag{Name: "p2p.peers.grace", Value: 30 * time.Second},
	&cli.StringFlag{Name: "p2p.scoring", Value: "light"},
	&cli.BoolFlag{Name: "p2p.ban.peers", Value: true},
	&cli.Float64Flag{Name: "p2p.ban.threshold", Value: -100},
	&cli.DurationFlag{Name: "p2p.ban.duration", Value: time.Hour},
	&cli.IntFlag{Name: "p2p.gossip.mesh.d", Value: p2p.DefaultMeshD},
	&cli.IntFlag{Name: "p2p.gossip.mesh.lo", Value: p2p.DefaultMeshDlo},
	&cli.IntFlag{Name: "p2p.gossip.mesh.dhi", Value: p2p.DefaultMeshDhi},
	&cli.IntFlag{Name: "p2p.gossip.mesh.dlazy", Value: p2p.DefaultMeshDlazy},
	&cli.BoolFlag{Name: "p2p.gossip.mesh.floodpublish"},
	&cli.DurationFlag{Name: "p2p.gossip.timestamp.threshold", Value: 60 * time.Second},
	&cli.StringFlag{Name: "p2p.sequencer.key", Usage: "hex key to sign produced blocks with"},
}

func p2pConfig(c *cli.Context, blockTime uint64) (*p2p.Config, error) {
	conf := &p2p.Config{
		ListenIP:                 net.ParseIP(c.String("p2p.listen.ip")),
		ListenTCPPort:            uint16(c.Uint("p2p.listen.tcp")),
		ListenUDPPort:            uint16(c.Uint("p2p.listen.udp")),
		NoDiscovery:              c.Bool("p2p.no-discovery"),
		HostMux:                  []libp2p.Option{p2p.YamuxC(), p2p.MplexC()},
		HostSecurity:             []libp2p.Option{p2p.NoiseC()},
		PeersLo:                  c.Uint("p2p.peers.lo"),
		PeersHi:                  c.Uint("p2p.peers.hi"),
		PeersGrace:               c.Duration("p2p.peers.grace"),
		UserAgent:                "optimism",
		TimeoutNegotiation:       10 * time.Second,
		TimeoutAccept:            10 * time.Second,
		TimeoutDial:              10 * time.Second,
		MeshD:                    c.Int("p2p.gossip.mesh.d"),
		MeshDLo:                  c.Int("p2p.gossip.mesh.lo"),
		MeshDHi:                  c.Int("p2p.gossip.mesh.dhi"),
		MeshDLazy:                c.Int("p2p.gossip.mesh.dlazy"),
		FloodPublish:             c.Bool("p2p.gossip.mesh.floodpublish"),
		GossipTimestampThreshold: c.Duration("p2p.gossip.timestamp.threshold"),
		BanningEnabled:           c.Bool("p2p.ban.peers"),
		BanningThreshold:         c.Float64("p2p.ban.threshold"),
		BanningDuration:          c.Duration("p2p.ban.duration"),
		Store:                    dssync.MutexWrap(ds.NewMapDatastore()),
		EnableReqRespSync:        true,
	}
	if conf.ListenIP == nil {
		return nil, fmt.Errorf("bad --p2p.listen.ip")
	}
	if s := c.String("p2p.advertise.ip"); s != "" {
		if conf.AdvertiseIP = net.ParseIP(s).To4(); conf.AdvertiseIP == nil {
			return nil, fmt.Errorf("bad --p2p.advertise.ip")
		}
	}
	if raw := c.String("p2p.priv.raw"); raw != "" {
		b, err := hex.DecodeString(strings.TrimPrefix(raw, "0x"))
		if err != nil {
			return nil, fmt.Errorf("bad --p2p.priv.raw: %w", err)
		}
		k, err := crypto.UnmarshalSecp256k1PrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("bad --p2p.priv.raw: %w", err)
		}
		conf.Priv = k.(*crypto.Secp256k1PrivateKey)
	} else {
		k, _, err := crypto.GenerateSecp256k1Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		conf.Priv = k.(*crypto.Secp256k1PrivateKey)
	}
	var err error
	if conf.DiscoveryDB, err = enode.OpenDB(""); err != nil {
		return nil, err
	}
	for _, record := range c.StringSlice("p2p.bootnodes") {
		record = strings.TrimSpace(record)
		if record == "" {
			continue
		}
		n, err := enode.Parse(enode.ValidSchemes, record)
		if err != nil {
			return nil, fmt.Errorf("bad bootnode %q: %w", record, err)
		}
		conf.Bootnodes = append(conf.Bootnodes, n)
	}
	if s := c.String("p2p.static"); s != "" {
		for _, a := range strings.Split(s, ",") {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			addr, err := multiaddrOf(a)
			if err != nil {
				return nil, err
			}
			conf.StaticPeers = append(conf.StaticPeers, addr)
		}
	}
	if level := c.String("p2p.scoring"); level != "" {
		if conf.ScoringParams, err = p2p.GetScoringParams(level, blockTime); err != nil {
			return nil, err
		}
	}
	if err := conf.Check(); err != nil {
		return nil, err
	}
	return conf, nil
}

// sequencerSigner is op-node's local block signer for --p2p.sequencer.key, or nil.
func sequencerSigner(c *cli.Context) (p2p.Signer, error) {
	key := strings.TrimPrefix(c.String("p2p.sequencer.key"), "0x")
	if key == "" {
		return nil, nil
	}
	priv, err := gcrypto.HexToECDSA(key)
	if err != nil {
		return nil, fmt.Errorf("bad --p2p.sequencer.key: %w", err)
	}
	return opsigner.NewLocalSigner(priv), nil
}
