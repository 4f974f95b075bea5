################################################################################
#
# hotshare
#
################################################################################

HOTSHARE_VERSION = 0.1.0
# The package's source is the whole hotshare tree: the Python project
# (python/, built from HOTSHARE_SUBDIR) and the C helper it compiles
# (csrc/, found by python/setup.py as ../csrc). Both are copied into
# the build directory, and legal-info archives both.
HOTSHARE_SITE = $(BR2_EXTERNAL_HOTSHARE_PATH)
HOTSHARE_SITE_METHOD = local
HOTSHARE_SUBDIR = python
HOTSHARE_SETUP_TYPE = setuptools
HOTSHARE_LICENSE = MIT
HOTSHARE_LICENSE_FILES = LICENSE
# The build runs without isolation: every build requirement must be a
# host package (host-python-setuptools comes with the setuptools type).
HOTSHARE_DEPENDENCIES = host-python-cffi
# Here the C helper is not optional: python/setup.py fails instead of
# building a pure-Python package when cffi cannot be imported.
HOTSHARE_ENV = HOTSHARE_REQUIRE_CEXT=1

# What the source must not bring along: the developer's Buildroot
# output and downloads (by default output/ and dl/ in the tree; O= and
# BR2_DL_DIR wherever they are inside it), virtualenv, caches, the test
# and benchmark suites, and whatever an in-place build leaves in
# python/ and csrc/, above all native objects built for the host.
# Patterns starting with / are relative to the root of the tree.
HOTSHARE_TREE_SUBPATHS = \
	$(patsubst $(BR2_EXTERNAL_HOTSHARE_PATH)/%,/%,\
		$(filter $(BR2_EXTERNAL_HOTSHARE_PATH)/%,$(abspath $(1))))
HOTSHARE_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	$(foreach d,/output /dl /buildroot \
		$(call HOTSHARE_TREE_SUBPATHS,$(BASE_DIR) $(DL_DIR)),\
		--exclude '$(d)') \
	--exclude /.venv --exclude /.cache --exclude /tests --exclude /bench \
	--exclude /.ci \
	--exclude /python/build --exclude /python/dist \
	--exclude '/python/*.egg-info' --exclude /csrc/build \
	--exclude __pycache__ --exclude .pytest_cache --exclude .mypy_cache \
	--exclude .ruff_cache --exclude .hypothesis \
	--exclude '*.so' --exclude '*.o' --exclude '*.pyc'

# legal-info archives a copy of the site made with Buildroot's
# RSYNC_VCS_EXCLUSIONS only: in Buildroot 2026.02, <pkg>_OVERRIDE_SRCDIR_-
# RSYNC_EXCLUSIONS applies to the build's rsync, not to legal-info's.
# Give legal-info's copy the same exclusions, for this package only
# (private: not passed on to its prerequisites), or it would archive
# output/ (and copy it into itself).
hotshare-legal-info: private RSYNC_VCS_EXCLUSIONS += \
	$(HOTSHARE_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS)

define HOTSHARE_INSTALL_EXTRA_FILES
	$(INSTALL) -D -m 0755 $(HOTSHARE_PKGDIR)/firstboot \
		$(TARGET_DIR)/usr/libexec/hotshare/firstboot
	$(INSTALL) -D -m 0644 $(HOTSHARE_PKGDIR)/hotshare.default \
		$(TARGET_DIR)/etc/default/hotshare
	$(INSTALL) -d -m 0700 $(TARGET_DIR)/etc/hotshare
endef
HOTSHARE_POST_INSTALL_TARGET_HOOKS += HOTSHARE_INSTALL_EXTRA_FILES

# Board applications written for create_ap run it by that name: a link,
# so that the interpreter sees /usr/bin/create_ap as the script (its
# argv, which `pkill -f create_ap` reads, keeps the name).
ifeq ($(BR2_PACKAGE_HOTSHARE_CREATE_AP_NAME),y)
define HOTSHARE_INSTALL_CREATE_AP_NAME
	ln -sf hotshare $(TARGET_DIR)/usr/bin/create_ap
endef
HOTSHARE_POST_INSTALL_TARGET_HOOKS += HOTSHARE_INSTALL_CREATE_AP_NAME
endif

# /etc/hotshare holds the Wi-Fi passphrase: root only, whatever a
# rootfs overlay copied there.
define HOTSHARE_PERMISSIONS
	/etc/hotshare d 0700 0 0 - - - - -
endef

define HOTSHARE_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(HOTSHARE_PKGDIR)/S95hotshare \
		$(TARGET_DIR)/etc/init.d/S95hotshare
endef

define HOTSHARE_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(HOTSHARE_PKGDIR)/hotshare.service \
		$(TARGET_DIR)/usr/lib/systemd/system/hotshare.service
endef

$(eval $(python-package))
