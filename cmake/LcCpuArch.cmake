# CPU SIMD flags: this host's instruction set (AVX2/FMA, AVX-512 where present) unless
# LC_PORTABLE asks for a baseline x86-64 build.
include(CheckCXXCompilerFlag)
set(LC_CPU_FLAGS "")
if(NOT LC_PORTABLE)
  check_cxx_compiler_flag("-march=native" LC_HAS_MARCH_NATIVE)
  if(LC_HAS_MARCH_NATIVE)
    set(LC_CPU_FLAGS -march=native)
  endif()
endif()
set(LC_WARNING_FLAGS -Wall -Wextra -Wno-unused-parameter)
