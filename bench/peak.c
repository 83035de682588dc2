// The CPU's peak multiply-accumulate rate, from its instruction set and its clock, measured on every core
// at once (bench/peak.ts compiles and runs this; see docs/benchmarks.md "The roofline").
//   clock:  a chain of dependent 64-bit multiplies, 3 cycles each, on every core at once: the clock each
//           core holds while all of them are busy.
//   fp32:   fused multiply-adds on the widest vectors the CPU has (AVX-512 or AVX2), with enough
//           independent accumulators to hide their latency: what the FMA ports deliver, 1 MAC per lane.
//   int8:   VNNI dot products (vpdpbusd: u8 x s8, 4 MACs per 32-bit lane), AVX-512 or AVX-VNNI: what
//           ONNX Runtime's integer kernels run on where AMX is absent.
// Prints one JSON line. Built with -O2 -march=native -fopenmp by bench/peak.ts.
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// Dependent multiplies: each needs the previous one's result, and a 64-bit imul takes 3 cycles on every
// Intel core since Core 2 and AMD's since Zen, so 3 x multiplies per second is the clock. (A chain of
// adds is not: Golden Cove and later fold some dependent add-immediates, and reported 5.6 GHz here.) The
// asm keeps the compiler from folding the chain.
static double cycles_per_second(long n) {
  uint64_t x = 1, k = 3;
  double start = now();
  for (long i = 0; i < n; i++) {
    __asm__ volatile("imul %1, %0\n\timul %1, %0\n\timul %1, %0\n\timul %1, %0" : "+r"(x) : "r"(k));
  }
  double seconds = now() - start;
  if (x == 0) return -1;
  return n * 4.0 * 3.0 / seconds;
}

#if defined(__AVX512F__)
#define FP_LANES 16
typedef __m512 vf;
#define VF_SET1 _mm512_set1_ps
#define VF_FMA _mm512_fmadd_ps
#define VF_ADD _mm512_add_ps
static float vf_sum(vf v) { return _mm512_reduce_add_ps(v); }
#else
#define FP_LANES 8
typedef __m256 vf;
#define VF_SET1 _mm256_set1_ps
#define VF_FMA _mm256_fmadd_ps
#define VF_ADD _mm256_add_ps
static float vf_sum(vf v) {
  float out[8];
  _mm256_storeu_ps(out, v);
  float s = 0;
  for (int i = 0; i < 8; i++) s += out[i];
  return s;
}
#endif

// 12 independent accumulators: FMA latency 4 cycles x 2 ports = 8 in flight, with room to spare.
static double fp32_macs_per_second(long n, float *sink) {
  vf a = VF_SET1(0.999999f), b = VF_SET1(1e-7f);
  // Distinct starting values: twelve equal chains would be one chain to the compiler (it shares them).
  vf c0 = VF_SET1(0), c1 = VF_SET1(1), c2 = VF_SET1(2), c3 = VF_SET1(3), c4 = VF_SET1(4), c5 = VF_SET1(5);
  vf c6 = VF_SET1(6), c7 = VF_SET1(7), c8 = VF_SET1(8), c9 = VF_SET1(9), c10 = VF_SET1(10), c11 = VF_SET1(11);
  double start = now();
  for (long i = 0; i < n; i++) {
    c0 = VF_FMA(c0, a, b); c1 = VF_FMA(c1, a, b); c2 = VF_FMA(c2, a, b); c3 = VF_FMA(c3, a, b);
    c4 = VF_FMA(c4, a, b); c5 = VF_FMA(c5, a, b); c6 = VF_FMA(c6, a, b); c7 = VF_FMA(c7, a, b);
    c8 = VF_FMA(c8, a, b); c9 = VF_FMA(c9, a, b); c10 = VF_FMA(c10, a, b); c11 = VF_FMA(c11, a, b);
  }
  double seconds = now() - start;
  vf s = VF_ADD(VF_ADD(VF_ADD(c0, c1), VF_ADD(c2, c3)), VF_ADD(VF_ADD(c4, c5), VF_ADD(c6, c7)));
  *sink += vf_sum(VF_ADD(s, VF_ADD(VF_ADD(c8, c9), VF_ADD(c10, c11))));
  return n * 12.0 * FP_LANES / seconds;
}

#if defined(__AVX512VNNI__)
#define INT8_LANES 16
typedef __m512i vi;
#define VI_SET1 _mm512_set1_epi32
#define VI_DOT _mm512_dpbusd_epi32
#define VI_ADD _mm512_add_epi32
static int vi_sum(vi v) { return _mm512_reduce_add_epi32(v); }
#define HAVE_VNNI "avx512_vnni"
#elif defined(__AVXVNNI__)
#define INT8_LANES 8
typedef __m256i vi;
#define VI_SET1 _mm256_set1_epi32
#define VI_DOT _mm256_dpbusd_avx_epi32
#define VI_ADD _mm256_add_epi32
static int vi_sum(vi v) {
  int out[8];
  _mm256_storeu_si256((__m256i *)out, v);
  int s = 0;
  for (int i = 0; i < 8; i++) s += out[i];
  return s;
}
#define HAVE_VNNI "avx_vnni"
#endif

#ifdef HAVE_VNNI
static double int8_macs_per_second(long n, int *sink) {
  vi a = VI_SET1(0x01010101), b = VI_SET1(0x01010101);
  vi c0 = VI_SET1(0), c1 = VI_SET1(1), c2 = VI_SET1(2), c3 = VI_SET1(3), c4 = VI_SET1(4), c5 = VI_SET1(5);
  vi c6 = VI_SET1(6), c7 = VI_SET1(7), c8 = VI_SET1(8), c9 = VI_SET1(9), c10 = VI_SET1(10), c11 = VI_SET1(11);
  double start = now();
  for (long i = 0; i < n; i++) {
    c0 = VI_DOT(c0, a, b); c1 = VI_DOT(c1, a, b); c2 = VI_DOT(c2, a, b); c3 = VI_DOT(c3, a, b);
    c4 = VI_DOT(c4, a, b); c5 = VI_DOT(c5, a, b); c6 = VI_DOT(c6, a, b); c7 = VI_DOT(c7, a, b);
    c8 = VI_DOT(c8, a, b); c9 = VI_DOT(c9, a, b); c10 = VI_DOT(c10, a, b); c11 = VI_DOT(c11, a, b);
  }
  double seconds = now() - start;
  vi s = VI_ADD(VI_ADD(VI_ADD(c0, c1), VI_ADD(c2, c3)), VI_ADD(VI_ADD(c4, c5), VI_ADD(c6, c7)));
  *sink += vi_sum(VI_ADD(s, VI_ADD(VI_ADD(c8, c9), VI_ADD(c10, c11))));
  return n * 12.0 * INT8_LANES * 4 / seconds;
}
#endif

int main(void) {
  int threads = omp_get_max_threads();
  double clock = 0, fp32 = 0, int8 = 0;
  float fsink = 0;
  int isink = 0;
  // Three rounds; each figure is the best round's sum over the threads (all cores busy at once).
  for (int round = 0; round < 3; round++) {
    double c = 0, f = 0, q = 0;
#pragma omp parallel reduction(+ : c, f, q, fsink, isink)
    {
      c += cycles_per_second(100000000L);
      f += fp32_macs_per_second(40000000L, &fsink);
#ifdef HAVE_VNNI
      q += int8_macs_per_second(40000000L, &isink);
#endif
    }
    if (c / threads > clock) clock = c / threads;
    if (f > fp32) fp32 = f;
    if (q > int8) int8 = q;
  }
#ifdef HAVE_VNNI
  const char *vnni = "\"" HAVE_VNNI "\"";
#else
  const char *vnni = "null";
#endif
  printf("{\"threads\": %d, \"clockHz\": %.0f, \"fp32Lanes\": %d, \"fp32MacsPerSecond\": %.0f, \"vnni\": %s, \"int8MacsPerSecond\": %.0f, \"sink\": %.1f}\n",
         threads, clock, FP_LANES, fp32, vnni, int8, (double)fsink + isink);
  return 0;
}
