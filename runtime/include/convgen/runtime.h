// convgen's runtime API: everything a program that links generated kernels needs.
//
//   #include "stem.h"                       // made by convgen_add_kernel(stem SPEC ...)
//   convgen::Layer layer(convgen::kernels::stem(), weight);      // weights checked, copied
//   convgen::Tensor y = layer.forward(convgen::ConstTensorView(x, {1, 3, 224, 224}));
#pragma once

#include "convgen/aot_kernel.h"
#include "convgen/error.h"
#include "convgen/kernel.h"
#include "convgen/layer.h"
#include "convgen/spec.h"
#include "convgen/tensor.h"
