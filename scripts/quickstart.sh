#!/usr/bin/env bash
# Install what is missing, build, generate the example kernels and run the examples:
# SPEC.md's golden numbers, then a small CNN of generated layers.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_missing_packages
configure_and_build
say "SPEC.md's golden examples, through generated kernels"
"$CONVGEN_BUILD/examples/golden"
say "The main example: a small CNN of generated layers"
"$CONVGEN_BUILD/examples/small_cnn" "$@"
