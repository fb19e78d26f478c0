#!/usr/bin/env bash
# Installs Debian's protoc and Python gRPC/protobuf runtime for the test that uses the fsmeta API from a
# Python client generated from proto/ alone (test/integration/python-client.test.ts). Needs root and Debian's
# package archive; does nothing when everything is there. The test fails under CI when these are missing and
# skips elsewhere, saying why.
set -euo pipefail
have() { command -v protoc >/dev/null && /usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null; }
if have; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-python-grpc: not root or no apt-get; the Python client test will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends protobuf-compiler python3-protobuf python3-grpcio >/dev/null; then
    protoc --version
    exit 0
  fi
  echo "install-python-grpc: attempt $attempt failed; retrying" >&2
  sleep 5
done
# An unreachable archive must not hide every other test: that one test then fails under CI, saying why.
echo "install-python-grpc: could not install protoc and python3-grpcio" >&2
