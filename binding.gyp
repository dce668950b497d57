{
  "targets": [
    {
      "target_name": "scif",
      "sources": [
        "native/addon.cc",
        "native/endpoint.cc",
        "native/poller.cc",
        "native/busy_poll.cc",
        "native/provider.cc",
        "native/user_provider.cc",
        "native/kernel_provider.cc",
        "native/rma_worker.cc",
        "native/user_rma.cc",
        "native/user_stream.cc",
        "native/alloc.cc",
        "native/mapping.cc",
        "native/read_slabs.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "cflags": ["-Wall", "-Wextra", "-Werror"]
    }
  ]
}
