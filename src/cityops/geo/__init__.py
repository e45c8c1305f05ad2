"""One map (一张图): the jurisdiction tree city → district → street → community → unit grid."""
