"""Case photos (案件照片): upload, content-addressed storage, serving."""
