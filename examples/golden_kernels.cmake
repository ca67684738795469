# The layers of SPEC.md's golden examples, as AOT kernels. examples/golden.cpp prints
# their numbers and tests/test_aot.cpp checks them; the spec strings match
# examples/spec_examples.h (the test checks that too).
convgen_add_kernel(golden_conv1d SPEC "Conv1d(1, 1, kernel_size=(3,), stride=(1,), bias=False)")
convgen_add_kernel(golden_groups SPEC "Conv2d(4, 8, kernel_size=(1, 1), stride=(1, 1), groups=2, bias=False)")
foreach (mode IN ITEMS zeros reflect replicate circular)
    convgen_add_kernel(golden_pad_${mode}
        SPEC "Conv2d(1, 1, kernel_size=1, padding=3, bias=False, padding_mode='${mode}')")
endforeach ()
convgen_add_kernel(golden_stacked1 SPEC "Conv2d(1, 2, kernel_size=(2, 2), stride=(2, 2), bias=False)")
convgen_add_kernel(golden_stacked2 SPEC "Conv2d(2, 4, kernel_size=(2, 2), stride=(2, 2), bias=False)")

# Kernel targets are OBJECT libraries: link them directly into each executable (objects do
# not travel through an INTERFACE library).
set(CONVGEN_GOLDEN_KERNELS
    golden_conv1d golden_groups golden_pad_zeros golden_pad_reflect golden_pad_replicate golden_pad_circular
    golden_stacked1 golden_stacked2)
