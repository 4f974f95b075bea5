################################################################################
#
# hotshare
#
################################################################################

HOTSHARE_VERSION = 0.1.0
# The Python project lives in python/ of the hotshare tree. The tree's
# root is not used as the site: it holds output/ and dl/, which rsync
# would copy into the build directory.
HOTSHARE_SITE = $(BR2_EXTERNAL_HOTSHARE_PATH)/python
HOTSHARE_SITE_METHOD = local
HOTSHARE_SETUP_TYPE = setuptools
HOTSHARE_LICENSE = MIT
HOTSHARE_LICENSE_FILES = LICENSE
# The build runs without isolation: every build requirement must be a
# host package (host-python-setuptools comes with the setuptools type).
HOTSHARE_DEPENDENCIES = host-python-cffi

# Leave out what a developer's in-place build leaves in python/: above
# all, native objects built for the host.
HOTSHARE_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude /build --exclude /dist --exclude '/*.egg-info' \
	--exclude __pycache__ --exclude '*.so' --exclude '*.o'

# The C helper's sources are in csrc/ at the root of the tree, next to
# python/ rather than inside it: bring them in as $(@D)/csrc, where the
# Python build looks for them first.
define HOTSHARE_RSYNC_CSRC
	if [ -d $(BR2_EXTERNAL_HOTSHARE_PATH)/csrc ]; then \
		rsync -au --chmod=u=rwX,go=rX $(RSYNC_VCS_EXCLUSIONS) \
			--exclude '*.o' --exclude '*.so' \
			$(BR2_EXTERNAL_HOTSHARE_PATH)/csrc/ $(@D)/csrc; \
	fi
endef
HOTSHARE_POST_RSYNC_HOOKS += HOTSHARE_RSYNC_CSRC

define HOTSHARE_INSTALL_EXTRA_FILES
	$(INSTALL) -D -m 0755 $(HOTSHARE_PKGDIR)/firstboot \
		$(TARGET_DIR)/usr/libexec/hotshare/firstboot
	$(INSTALL) -D -m 0644 $(HOTSHARE_PKGDIR)/hotshare.default \
		$(TARGET_DIR)/etc/default/hotshare
	$(INSTALL) -d -m 0700 $(TARGET_DIR)/etc/hotshare
endef
HOTSHARE_POST_INSTALL_TARGET_HOOKS += HOTSHARE_INSTALL_EXTRA_FILES

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
