# shellcheck shell=bash
# Pinned versions of the gateways and tools that tests/bench/install.sh installs.
# shellcheck disable=SC2034  # sourced by install.sh and gateways.sh

# LiteLLM proxy from PyPI. Never 1.82.7, 1.82.8 or 1.107.0: those releases were published
# compromised. 1.103 and later need certifi >= 2026.10.19, which the registry here does not
# serve yet.
LITELLM_VERSION=1.102.4
# Portkey's AI gateway from npm, run with the machine's node. Its dependency range lets npm pick
# a newer @hono/node-server, with which every stream through it fails with "TypeError:
# immutable" (Portkey gateway issue 1389); 1.14.2 fails the same way, 1.11.5 works.
PORTKEY_VERSION=1.15.2
PORTKEY_HONO_NODE_SERVER_VERSION=1.11.5
# oha, the load generator with an open-loop fixed-rate mode (-q) that corrects coordinated
# omission (--latency-correction); built from crates.io.
OHA_VERSION=1.16.0
