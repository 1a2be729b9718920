/** @file isa.hpp
 *  The loops are compiled twice: portably (baseline x86-64 or any other CPU) and, on x86-64, a second time for
 *  AVX2 (cpp/bindings/sgd_avx2.cpp), chosen at run time. Each copy lives in its own inline namespace so the two
 *  never share a symbol. Neither copy uses FMA and all reductions have a fixed order, so both give the same bits.
 */
#pragma once

#ifndef OPTCORE_ISA_NAME
#define OPTCORE_ISA_NAME portable
#endif

#define OPTCORE_ISA_BEGIN inline namespace OPTCORE_ISA_NAME {
#define OPTCORE_ISA_END }
