# Sourced by the memory scripts (controller-rss.sh, controller-rss-scale.sh): the binary to
# measure, in $bin: CONNECT_GR_BIN when set, else target/release/connect-gr built here.
if [ -n "${CONNECT_GR_BIN:-}" ]; then
  bin=$CONNECT_GR_BIN
else
  cargo build --release --bin connect-gr
  bin=target/release/connect-gr
fi
