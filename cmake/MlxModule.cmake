# mlx_module(NAME DEPS ...): every *.cpp in the calling directory becomes one static PIC library.
# Files named *_avx2.cpp / *_avx512.cpp get the ISA flags they need; the code dispatches by CPUID at run time.
set(MLX_AVX2_FLAGS -mavx2 -mfma -mf16c)
set(MLX_AVX512_FLAGS -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512bf16 -mavx512vnni -mfma -mf16c)

function(mlx_module name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT sources)
    add_library(${name} INTERFACE)
    target_link_libraries(${name} INTERFACE ${ARG_DEPS})
    return()
  endif()
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/lib)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} nlohmann_json::nlohmann_json fmt::fmt Threads::Threads)
  foreach(src ${sources})
    if(src MATCHES "_avx2\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${MLX_AVX2_FLAGS}")
    elseif(src MATCHES "_avx512\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${MLX_AVX512_FLAGS}")
    endif()
  endforeach()
  set_property(GLOBAL APPEND PROPERTY MLX_MODULES ${name})
endfunction()

# libmlxkit: the union of every module, linked whole so the shared library exports everything.
function(mlx_add_shared_library)
  get_property(mods GLOBAL PROPERTY MLX_MODULES)
  add_library(mlxkit SHARED ${CMAKE_SOURCE_DIR}/cmake/mlxkit_version.cpp)
  target_include_directories(mlxkit PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/lib)
  # Whole archives first (so every object lands in the .so), then the modules again for their own dependencies.
  set(archives "")
  foreach(m ${mods})
    list(APPEND archives "$<TARGET_FILE:${m}>")
  endforeach()
  target_link_libraries(mlxkit PRIVATE "-Wl,--whole-archive" ${archives} "-Wl,--no-whole-archive")
  target_link_libraries(mlxkit PUBLIC ${mods})
  if(mods)
    add_dependencies(mlxkit ${mods})
  endif()
  set_target_properties(mlxkit PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
endfunction()

# mlx_test(DIR DEPS ...): every *.cpp in tests/DIR becomes one GoogleTest executable test_DIR.
function(mlx_test dir)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT sources)
    return()
  endif()
  add_executable(test_${dir} ${sources})
  target_include_directories(test_${dir} PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/lib ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(test_${dir} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(test_${dir} PRIVATE
    MLX_BIN="$<TARGET_FILE:mlx>"
    MLX_TEST_DATA="${CMAKE_SOURCE_DIR}/tests/data"
    MLX_SHARED_FIXTURES="${CMAKE_SOURCE_DIR}/../shared/fixtures"
    MLX_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_dependencies(test_${dir} mlx)
  gtest_discover_tests(test_${dir} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
endfunction()
