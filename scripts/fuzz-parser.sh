#!/usr/bin/env bash
# Builds the libFuzzer target for the JSON and Segment parsers (Tests/Fuzz/SegmentParserFuzz.swift)
# with AddressSanitizer, and runs it.
#
#   scripts/fuzz-parser.sh [SECONDS] [extra libFuzzer flags…]     (default 60 s)
#
# Work files go to $FUZZ_DIR (default .build-fuzz/): the binary, the growing corpus, crash reproducers.
# A crash leaves crash-* there; replay it with: .build-fuzz/segment-parser-fuzz .build-fuzz/crash-…
set -euo pipefail

seconds="${1:-60}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${FUZZ_DIR:-$root/.build-fuzz}"
mkdir -p "$work/modules" "$work/corpus"

flags=(-Onone -g -parse-as-library -sanitize=fuzzer,address
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility)

echo "building JourneyCore, JourneyEvents and the fuzz target…" >&2
swiftc "${flags[@]}" -module-name JourneyCore -emit-module -emit-module-path "$work/modules/JourneyCore.swiftmodule" \
    -c $(find "$root/Sources/JourneyCore" -name '*.swift' | sort) -wmo -o "$work/JourneyCore.o"
swiftc "${flags[@]}" -module-name JourneyEvents -I "$work/modules" \
    -emit-module -emit-module-path "$work/modules/JourneyEvents.swiftmodule" \
    -c $(find "$root/Sources/JourneyEvents" -name '*.swift' | sort) -wmo -o "$work/JourneyEvents.o"
swiftc "${flags[@]}" -module-name SegmentParserFuzz -I "$work/modules" \
    "$root/Tests/Fuzz/SegmentParserFuzz.swift" "$work/JourneyCore.o" "$work/JourneyEvents.o" \
    -o "$work/segment-parser-fuzz"

# Seeds: a few well-formed Segment lines of each type, so the fuzzer starts deep in the parser.
seed() { printf '%s' "$2" > "$work/corpus/seed-$1"; }
seed track '{"type":"track","userId":"u189534","event":"event_35","properties":{"sku":"SKU-89703","price":5401.4,"qty":4,"category":"shirts"},"timestamp":"2025-06-01T12:19:27.123Z","messageId":"m-0-223372380367640"}'
seed identify '{"type":"identify","userId":12345,"traits":{"email":"a@example.com","tags":["a","b"]},"context":{"traits":{"plan":"pro"},"ip":"1.2.3.4"},"originalTimestamp":"2025-01-06T10:00:00.123456+08:00","messageId":"m1"}'
seed page '{"type":"page","anonymousId":"a-1","name":"Pricing","properties":{"path":"/p","n":-1.5e-3,"u":"\u00e9\ud83d\ude00\n"},"sentAt":"2025-01-06 10:00:00Z","messageId":"m2"}'
seed group '{"type":"group","userId":"u1","groupId":"acme","traits":{"employees":120,"x":null,"y":true},"receivedAt":"2025-01-06","messageId":"m3"}'
seed alias '{"type":"alias","userId":"u1","previousId":"anon","timestamp":"2025-01-06T10:00:00Z","messageId":"m4"}'
seed lines $'{"type":"screen","userId":"u","name":"Home","timestamp":"2025-01-06T10:00:00Z","messageId":"m5"}\r\n\n  \n{"a":[1,{"b":[]}]}\n{"type":"track"'

echo "fuzzing for ${seconds}s…" >&2
cd "$work"
exec "$work/segment-parser-fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 "$@" "$work/corpus"
