"""Compute-in-memory macro: its arithmetic and matched noise (:mod:`.macro`, the contract) and
the noise generator (:mod:`.noise`)."""
from .macro import (ENCODINGS, NOISE_MODELS, MacroSpec, activation_planes, adc,
                    decode_activations, decode_weights, layer_macro, macro_mvm, macro_mvm_float,
                    weight_planes)
from .noise import (NOISE_FRAC_BITS, SCALE_FRAC_BITS, TABLE_BITS, Z_FRAC_BITS, noise_index,
                    noise_indices, noise_scales, ztable)

__all__ = ["ENCODINGS", "NOISE_MODELS", "MacroSpec", "activation_planes", "adc",
           "decode_activations", "decode_weights", "layer_macro", "macro_mvm", "macro_mvm_float",
           "weight_planes", "NOISE_FRAC_BITS", "SCALE_FRAC_BITS", "TABLE_BITS", "Z_FRAC_BITS",
           "noise_index", "noise_indices", "noise_scales", "ztable"]
