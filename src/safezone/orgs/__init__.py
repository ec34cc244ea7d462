"""The partner network: police, local government, businesses, community, volunteers ..."""
