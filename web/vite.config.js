// Vite builds the app into web/dist, which the API serves at "/" (see src/cityops/api/web.py).
// `npm run dev` proxies the API to a running `cityops serve` on CITYOPS_DEV_API (default :8000).
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

const api = process.env.CITYOPS_DEV_API || 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [vue()],
  build: {
    outDir: 'dist',
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        manualChunks: { echarts: ['echarts'], leaflet: ['leaflet'] },
      },
    },
  },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: false },
    },
  },
})
