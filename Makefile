# Builds and installs the C library, its header, pkg-config files and the zcluster command.
#
#   make                          build into target/install/<profile>/
#   make install PREFIX=/opt/zc   install (default PREFIX=/usr/local; DESTDIR honoured)
#   make uninstall PREFIX=...
#   make PROFILE=dev install      an unoptimised build (faster to compile; for tests)
#
# Installed:
#   $(LIBDIR)/libzcluster.so.$(VERSION), libzcluster.so.0 -> it (the soname),
#   libzcluster.so -> libzcluster.so.0; $(LIBDIR)/libzcluster.a;
#   $(INCLUDEDIR)/zcluster.h; $(PKGCONFIGDIR)/zcluster.pc (dynamic) and
#   zcluster-static.pc (links libzcluster.a and the system libraries it needs);
#   $(BINDIR)/zcluster.
# Only zc_* symbols are exported from the shared library (rustc's cdylib export list;
# scripts/install-test.sh checks it with nm -D).

PREFIX       ?= /usr/local
EXEC_PREFIX  ?= $(PREFIX)
LIBDIR       ?= $(EXEC_PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
BINDIR       ?= $(EXEC_PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR      ?=
PROFILE      ?= release
CARGO        ?= cargo
TARGET_DIR   ?= target/install
SOMAJOR      := 0
VERSION      := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
OUT          := $(TARGET_DIR)/$(if $(filter dev,$(PROFILE)),debug,$(PROFILE))
STAGE        := $(TARGET_DIR)/stage-$(PROFILE)
# What a static link needs besides libzcluster.a (rustc's --print native-static-libs on
# Linux/glibc); refreshed from rustc's own note on every build.
NATIVE_DEFAULT := -lssl -lcrypto -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

.PHONY: all build install uninstall clean-install
all: build

build:
	@mkdir -p $(STAGE)
	$(CARGO) build --profile $(PROFILE) --target-dir $(TARGET_DIR) --bin zcluster
	cp $(OUT)/zcluster $(STAGE)/zcluster
	$(CARGO) rustc --lib --profile $(PROFILE) --target-dir $(TARGET_DIR) \
	  --crate-type cdylib --crate-type staticlib -- \
	  -C link-arg=-Wl,-soname,libzcluster.so.$(SOMAJOR) --print native-static-libs \
	  2> $(STAGE)/rustc.log || { cat $(STAGE)/rustc.log; exit 1; }
	@sed -n 's/.*native-static-libs: //p' $(STAGE)/rustc.log | tail -n 1 > $(STAGE)/native.tmp
	@if [ -s $(STAGE)/native.tmp ]; then mv $(STAGE)/native.tmp $(STAGE)/native-static-libs; \
	 elif [ ! -s $(STAGE)/native-static-libs ]; then echo '$(NATIVE_DEFAULT)' > $(STAGE)/native-static-libs; fi
	cp $(OUT)/libzcluster.so $(STAGE)/libzcluster.so.$(VERSION)
	cp $(OUT)/libzcluster.a $(STAGE)/libzcluster.a
	@readelf -d $(STAGE)/libzcluster.so.$(VERSION) | grep -q 'SONAME.*libzcluster.so.$(SOMAJOR)' \
	  || { echo "libzcluster.so has no soname libzcluster.so.$(SOMAJOR)"; exit 1; }

define PC_DYNAMIC
prefix=$(PREFIX)
exec_prefix=$(EXEC_PREFIX)
libdir=$(LIBDIR)
includedir=$(INCLUDEDIR)

Name: zcluster
Description: A Zeek cluster node as a library (Broker protocol, cluster framework, stores)
Version: $(VERSION)
Libs: -L$${libdir} -lzcluster
Libs.private: $(shell cat $(STAGE)/native-static-libs 2>/dev/null)
Cflags: -I$${includedir}
endef

define PC_STATIC
prefix=$(PREFIX)
exec_prefix=$(EXEC_PREFIX)
libdir=$(LIBDIR)
includedir=$(INCLUDEDIR)

Name: zcluster-static
Description: zcluster linked statically (libzcluster.a and the system libraries it needs)
Version: $(VERSION)
Libs: $${libdir}/libzcluster.a $(shell cat $(STAGE)/native-static-libs 2>/dev/null)
Cflags: -I$${includedir}
endef
export PC_DYNAMIC PC_STATIC

install: build
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(STAGE)/libzcluster.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libzcluster.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libzcluster.so.$(SOMAJOR)
	ln -sf libzcluster.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libzcluster.so
	install -m 0644 $(STAGE)/libzcluster.a $(DESTDIR)$(LIBDIR)/
	install -m 0644 include/zcluster.h $(DESTDIR)$(INCLUDEDIR)/
	printf '%s\n' "$$PC_DYNAMIC" > $(DESTDIR)$(PKGCONFIGDIR)/zcluster.pc
	printf '%s\n' "$$PC_STATIC" > $(DESTDIR)$(PKGCONFIGDIR)/zcluster-static.pc
	install -m 0755 $(STAGE)/zcluster $(DESTDIR)$(BINDIR)/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libzcluster.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libzcluster.so.$(SOMAJOR) \
	  $(DESTDIR)$(LIBDIR)/libzcluster.so $(DESTDIR)$(LIBDIR)/libzcluster.a \
	  $(DESTDIR)$(INCLUDEDIR)/zcluster.h $(DESTDIR)$(PKGCONFIGDIR)/zcluster.pc \
	  $(DESTDIR)$(PKGCONFIGDIR)/zcluster-static.pc $(DESTDIR)$(BINDIR)/zcluster

clean-install:
	rm -rf $(TARGET_DIR)
