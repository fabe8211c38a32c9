#!/usr/bin/env bash
# A small HTTP client that retries: GET / through the proxy whose address faultline run exports,
# up to 5 attempts. Exits 0 once a 200 answer arrived, 1 otherwise.
set -u
trap '' PIPE  # a write into a reset connection is an error to retry, not the end of the script

address=${FAULTLINE_WEB_ADDR:?run me with faultline run --config examples/ci/chaos.toml}
host=${address%:*}
port=${address##*:}

for attempt in 1 2 3 4 5; do
    if exec 3<>"/dev/tcp/$host/$port"; then
        printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$address" >&3
        reply=$(cat <&3 2>/dev/null)
        exec 3<&-
        status=${reply%%$'\r'*}
        if [[ $status == "HTTP/1."?" 200"* ]]; then
            echo "attempt $attempt: $status"
            exit 0
        fi
    fi
    echo "attempt $attempt failed; retrying" >&2
    sleep 0.1
done
echo "no answer after 5 attempts" >&2
exit 1
