{
  # The native CPU backend of lmedit. Built on the machine that runs it (npm install runs
  # scripts/build-native.mjs), hence -march=native. No -ffast-math: NaN/Inf semantics and exact
  # rounding matter. -fno-trapping-math (we never read FP exception flags) lets GCC vectorize
  # floor(), which the fast exp of GELU/SiLU/softmax needs. scripts/detect-blas.mjs decides whether OpenBLAS (Linux) or Accelerate
  # (macOS) is linked; without one the addon uses its built-in kernels only
  # (LMEDIT_NO_BLAS=1 forces that).
  "targets": [
    {
      "target_name": "lmedit_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/threadpool.cc",
        "native/src/gemm.cc",
        "native/src/elementwise.cc",
        "native/src/copy.cc",
        "native/src/reduce.cc",
        "native/src/softmax.cc",
        "native/src/norm.cc",
        "native/src/index.cc",
        "native/src/rope.cc",
        "native/src/attention.cc",
        "native/src/linalg.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/detect-blas.mjs include_dirs)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "<!@(node scripts/detect-blas.mjs defines)"
      ],
      "libraries": [
        "<!@(node scripts/detect-blas.mjs libraries)"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": [
        "-std=c++17",
        "-O3",
        "-fexceptions",
        "-frtti",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-ffp-contract=fast",
        "-pthread"
      ],
      "ldflags": ["-pthread"],
      "conditions": [
        ["OS=='linux' or OS=='freebsd'", {
          "cflags_cc": ["-march=native"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "GCC_ENABLE_CPP_RTTI": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=fast"]
          }
        }]
      ]
    }
  ]
}
