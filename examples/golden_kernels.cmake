# The layers of SPEC.md's golden examples, as "name|spec", and their AOT kernels for the
# CPU. examples/golden.cpp prints their numbers and tests/test_aot.cpp checks them (the GPU
# suites build them for their devices too); the spec strings match
# examples/spec_examples.h (the test checks that too).
set(CONVGEN_GOLDEN_LAYERS
    "golden_conv1d|Conv1d(1, 1, kernel_size=(3,), stride=(1,), bias=False)"
    "golden_groups|Conv2d(4, 8, kernel_size=(1, 1), stride=(1, 1), groups=2, bias=False)"
    "golden_pad_zeros|Conv2d(1, 1, kernel_size=1, padding=3, bias=False, padding_mode='zeros')"
    "golden_pad_reflect|Conv2d(1, 1, kernel_size=1, padding=3, bias=False, padding_mode='reflect')"
    "golden_pad_replicate|Conv2d(1, 1, kernel_size=1, padding=3, bias=False, padding_mode='replicate')"
    "golden_pad_circular|Conv2d(1, 1, kernel_size=1, padding=3, bias=False, padding_mode='circular')"
    "golden_stacked1|Conv2d(1, 2, kernel_size=(2, 2), stride=(2, 2), bias=False)"
    "golden_stacked2|Conv2d(2, 4, kernel_size=(2, 2), stride=(2, 2), bias=False)")

set(CONVGEN_GOLDEN_KERNELS)
convgen_add_kernels(CONVGEN_GOLDEN_KERNELS LAYERS ${CONVGEN_GOLDEN_LAYERS})
