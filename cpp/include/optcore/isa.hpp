/** @file isa.hpp
 *  The loops are compiled three times: portably (baseline x86-64 or any other CPU) and, on x86-64, for AVX2
 *  (cpp/bindings/sgd_avx2.cpp) and for AVX-512 (cpp/bindings/sgd_avx512.cpp); the widest copy the CPU runs is
 *  chosen at run time (cpp/bindings/sgd_dispatch.hpp; OPTCORE_ISA=portable|avx2|avx512 forces one). Each copy lives
 *  in its own inline namespace so they never share a symbol. No copy fuses a multiply and an add (-ffp-contract=off,
 *  no FMA target) and every reduction has a fixed order whatever the vector width, so all give the same bits.
 */
#pragma once

#ifndef OPTCORE_ISA_NAME
#define OPTCORE_ISA_NAME portable
#endif

#define OPTCORE_ISA_BEGIN inline namespace OPTCORE_ISA_NAME {
#define OPTCORE_ISA_END }
