#!/usr/bin/env bash
# Rewrites the pinned `handler subscription` outputs in tests/fixtures/subscription/ from the
# current code, hooks.toml and README's filter example (run it after changing either on purpose,
# then paste the az ones into README where `readme_shows_the_pinned_commands` says).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin handler
handler="$PWD/target/debug/handler"
pins=tests/fixtures/subscription
run() { env -u AML_EVENTS_HOOKS -u AML_EVENTS_WEBHOOK_KEY -u AML_EVENTS_ENTRA_TENANT -u AML_EVENTS_ENTRA_AUDIENCE "$@"; }
run "$handler" subscription --hooks hooks.toml > "$pins/shipped.az.sh"
run "$handler" subscription --format bicep --hooks hooks.toml > "$pins/shipped.bicep"
run "$handler" subscription --format arm --hooks hooks.toml > "$pins/shipped.arm.json"
run AML_EVENTS_WEBHOOK_KEY=k "$handler" subscription --endpoint https://aml-events.example.com/api/eventgrid \
    --hooks hooks.toml > "$pins/shipped-webhook.az.sh"
example=$(mktemp -d)
trap 'rm -rf "$example"' EXIT
# README's filter example: the toml block that holds `name = "monitor-breach"`.
awk '/^```toml$/ {block=""; inside=1; next} /^```$/ && inside {if (block ~ /name = "monitor-breach"/) printf "%s", block; inside=0; next} inside {block = block $0 "\n"}' \
    README.md > "$example/README.md"
(cd "$example" && run "$handler" subscription --hooks README.md) > "$pins/readme-monitor-breach.az.sh"
