# Convenience front-end to CMake. `make test` builds and runs every test and
# ends with CTest's summary line ("100% tests passed, 0 tests failed out of N").
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all build test demo clean sanitize

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The main job on the bundled default model and demo dataset.
demo: build
	./scripts/demo.sh $(BUILD)/whet

sanitize:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DWHET_SANITIZE=ON -DWHET_CUDA=OFF"

clean:
	rm -rf build build-asan
