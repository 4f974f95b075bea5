include $(sort $(wildcard $(BR2_EXTERNAL_HOTSHARE_PATH)/package/*/*.mk))
